// The pure decisions of SOCI-enabled copies (core/images/soci.ts), without mocks: which cache
// event is a job, which image is worth converting, where the copy goes, which report is
// believed, and which reference a task definition names.

import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  SOCI_CLAIM_STALE_MS,
  SOCI_CONVERTER_CPU,
  SOCI_COPY_LIFETIME_MS,
  SOCI_MAX_ATTEMPTS,
  SOCI_MIN_IMAGE_BYTES,
  SOCI_STARTED_BY_PREFIX,
  INDEX_JOB_MAX_AGE_MS,
  SOCI_NAMED_LIFETIME_MS,
  claimable,
  conversionDay,
  namedImageKeysOf,
  namedImageKeysOfJob,
  sociNamingOf,
  claimedConverterState,
  convertersHoldingVcpu,
  convertedReference,
  converterRun,
  indexDecision,
  indexImageJobOf,
  indexJobExpired,
  isConvertedImage,
  lastSociReport,
  parseSociReport,
  sociReportAccepted,
  sociTarget,
  taskDefinitionFamily,
  type SociRecord,
} from '../../core/images/soci.js';

const REGISTRY = '123456789012.dkr.ecr.us-east-1.amazonaws.com';
const SOURCE = `sha256:${'a1'.repeat(32)}`;
const CONVERTED = `sha256:${'c2'.repeat(32)}`;
const PREFIXES = ['slipway-docker-hub', 'slipway-quay'];
/** The sample event's `time`. */
const EVENT_TIME = Date.parse('2023-02-29T02:36:48Z');

/** The sample of https://docs.aws.amazon.com/AmazonECR/latest/userguide/ecr-eventbridge.html ("Event for a pull through cache action"), on our prefix, with a real-length digest. */
function cacheEvent(detail: Record<string, unknown> = {}): string {
  return JSON.stringify({
    version: '0',
    id: '85fc3613-e913-7fc4-a80c-a3753e4aa9ae',
    'detail-type': 'ECR Pull Through Cache Action',
    source: 'aws.ecr',
    account: '123456789012',
    time: '2023-02-29T02:36:48Z',
    region: 'us-east-1',
    resources: ['arn:aws:ecr:us-east-1:123456789012:repository/slipway-docker-hub/library/node'],
    detail: {
      'rule-version': '1',
      'sync-status': 'SUCCESS',
      'ecr-repository-prefix': 'slipway-docker-hub',
      'repository-name': 'slipway-docker-hub/library/node',
      'upstream-registry-url': 'registry-1.docker.io',
      'image-tag': '20',
      'image-digest': SOURCE,
      ...detail,
    },
  });
}

describe('indexImageJobOf (ECR "Pull Through Cache Action" events, ecr-eventbridge.html)', () => {
  it("makes the documented event's repository, tag and digest a job", () => {
    expect(indexImageJobOf(cacheEvent(), PREFIXES)).toEqual({ kind: 'job', job: { repository: 'slipway-docker-hub/library/node', tag: '20', digest: SOURCE, eventTime: EVENT_TIME } });
  });

  it("ignores an event without an RFC 3339 time (EventBridge always sets one): the job's age would be unknown", () => {
    for (const time of [undefined, 1677638208000, 'yesterday', '']) {
      const body = JSON.stringify({ ...JSON.parse(cacheEvent()), time });
      expect(indexImageJobOf(body, PREFIXES)).toMatchObject({ kind: 'ignored', reason: expect.stringContaining("the event's time") });
    }
  });

  it('ignores failed syncs, other prefixes, and digests or names that are not what ECR writes', () => {
    const reasons = [
      cacheEvent({ 'sync-status': 'FAILED' }),
      cacheEvent({ 'repository-name': 'someone-else/library/node' }),
      cacheEvent({ 'repository-name': 'slipway-docker-hub/../../etc' }),
      cacheEvent({ 'image-digest': 'sha256:short' }),
      cacheEvent({ 'image-digest': `sha512:${'a'.repeat(128)}` }),
    ].map((body) => indexImageJobOf(body, PREFIXES));
    expect(reasons.map((r) => r.kind)).toEqual(['ignored', 'ignored', 'ignored', 'ignored', 'ignored']);
    expect(reasons[1]).toMatchObject({ reason: expect.stringContaining('under none of the cache') });
  });

  it('keeps a job without its tag when the tag is not a tag', () => {
    expect(indexImageJobOf(cacheEvent({ 'image-tag': 'a b' }), PREFIXES)).toEqual({ kind: 'job', job: { repository: 'slipway-docker-hub/library/node', digest: SOURCE, eventTime: EVENT_TIME } });
  });

  it('leaves anything that is not such an event (a stage job, not JSON) to the stage decoder', () => {
    expect(indexImageJobOf(JSON.stringify({ stageKey: 'a/b#1/1' }), PREFIXES)).toEqual({ kind: 'other' });
    expect(indexImageJobOf('{', PREFIXES)).toEqual({ kind: 'other' });
    expect(indexImageJobOf(JSON.stringify({ source: 'aws.ecr', 'detail-type': 'ECR Image Action' }), PREFIXES)).toEqual({ kind: 'other' });
  });
});

describe("indexJobExpired (an index-image job's age, from the event's own time)", () => {
  it('keeps a job up to a day after its event, drops it after, and drops one dated well ahead of the clock', () => {
    const job = { eventTime: EVENT_TIME };
    expect(INDEX_JOB_MAX_AGE_MS).toBe(24 * 3600_000);
    expect(indexJobExpired(job, EVENT_TIME)).toBe(false);
    expect(indexJobExpired(job, EVENT_TIME + INDEX_JOB_MAX_AGE_MS)).toBe(false);
    expect(indexJobExpired(job, EVENT_TIME + INDEX_JOB_MAX_AGE_MS + 1)).toBe(true);
    // A clock a little behind the event's is no reason to drop it; a time an hour ahead is not believed.
    expect(indexJobExpired(job, EVENT_TIME - 60_000)).toBe(false);
    expect(indexJobExpired(job, EVENT_TIME - 3600_000)).toBe(true);
  });
});

describe('claimedConverterState (DescribeTasks of the task a stale claim names)', () => {
  const ARN = 'arn:aws:ecs:us-east-1:123456789012:task/slipway/abc';
  it('active while ECS describes it not STOPPED: provisioning, pending, running, stopping', () => {
    for (const lastStatus of ['PROVISIONING', 'PENDING', 'ACTIVATING', 'RUNNING', 'DEACTIVATING', 'STOPPING', 'DEPROVISIONING']) {
      expect(claimedConverterState(ARN, { tasks: [{ taskArn: ARN, lastStatus }], failures: [] })).toBe('active');
    }
  });
  it('gone once STOPPED, or when ECS answers MISSING (api_failures_messages.html: the task was not found)', () => {
    expect(claimedConverterState(ARN, { tasks: [{ taskArn: ARN, lastStatus: 'STOPPED' }] })).toBe('gone');
    expect(claimedConverterState(ARN, { tasks: [], failures: [{ arn: ARN, reason: 'MISSING' }] })).toBe('gone');
  });
  it('undecided on any other answer: another failure, another task, nothing', () => {
    expect(claimedConverterState(ARN, { tasks: [], failures: [{ arn: ARN, reason: 'INTERNAL_ERROR' }] })).toBeUndefined();
    expect(claimedConverterState(ARN, { tasks: [{ taskArn: `${ARN}x`, lastStatus: 'STOPPED' }] })).toBeUndefined();
    expect(claimedConverterState(ARN, {})).toBeUndefined();
  });
});

describe('who can cause a conversion: the images trusted builds named (namedImageKeysOf, sociNamingOf)', () => {
  it('keys a cached image by its repository and tag, its digest, or both, without the registry', () => {
    expect(namedImageKeysOf(`${REGISTRY}/slipway-docker-hub/library/node:20`)).toEqual(['slipway-docker-hub/library/node:20']);
    expect(namedImageKeysOf(`${REGISTRY}/slipway-docker-hub/library/node@${SOURCE}`)).toEqual([`slipway-docker-hub/library/node@${SOURCE}`]);
    expect(namedImageKeysOf(`${REGISTRY}/slipway-docker-hub/library/node:20@${SOURCE}`)).toEqual(['slipway-docker-hub/library/node:20', `slipway-docker-hub/library/node@${SOURCE}`]);
    expect(namedImageKeysOf('not a reference')).toEqual([]);
  });
  it("looks a job up by its tag, its event's digest and the digest its tag points at now", () => {
    const job = { repository: 'slipway-docker-hub/library/node', tag: '20', digest: CONVERTED };
    expect(namedImageKeysOfJob(job, SOURCE)).toEqual(['slipway-docker-hub/library/node:20', `slipway-docker-hub/library/node@${SOURCE}`, `slipway-docker-hub/library/node@${CONVERTED}`]);
    expect(namedImageKeysOfJob({ repository: 'r/x', digest: SOURCE }, SOURCE)).toEqual([`r/x@${SOURCE}`]);
  });
  it('counts the latest naming within a week, and none older', () => {
    const now = 10 * SOCI_NAMED_LIFETIME_MS;
    const old = { repo: 'acme/old', namedAt: now - SOCI_NAMED_LIFETIME_MS };
    const recent = { repo: 'acme/api', namedAt: now - 1000 };
    const latest = { repo: 'acme/web', namedAt: now - 10 };
    expect(sociNamingOf([old, recent, latest], now)).toEqual(latest);
    expect(sociNamingOf([old], now)).toBeUndefined();
    expect(sociNamingOf([], now)).toBeUndefined();
  });
  it('charges a conversion to its UTC day', () => {
    expect(conversionDay(Date.parse('2026-12-03T23:59:59.999Z'))).toBe('2026-12-03');
    expect(conversionDay(Date.parse('2026-12-04T00:00:00Z'))).toBe('2026-12-04');
  });
});

describe('indexDecision (fargate-pull-behavior.html: lazy load images over 250 MB)', () => {
  it('converts from 250 MB compressed, skips below, and skips an image ECR no longer describes', () => {
    expect(indexDecision(SOCI_MIN_IMAGE_BYTES)).toEqual({ convert: true });
    expect(indexDecision(390e6)).toEqual({ convert: true });
    expect(indexDecision(SOCI_MIN_IMAGE_BYTES - 1)).toMatchObject({ convert: false, reason: expect.stringContaining('under 250 MB') });
    expect(indexDecision(undefined)).toMatchObject({ convert: false, reason: expect.stringContaining('does not describe') });
  });
});

describe('claimable', () => {
  const now = 10 * SOCI_CLAIM_STALE_MS;
  const cases: [string, SociRecord | undefined, boolean][] = [
    ['no record', undefined, true],
    ['converted', { state: 'converted', repository: 'r/x', convertedDigest: CONVERTED, convertedAt: now - 1000 }, false],
    ['converted, its copy at its expiry', { state: 'converted', repository: 'r/x', convertedDigest: CONVERTED, convertedAt: now - SOCI_COPY_LIFETIME_MS }, true],
    ['skipped', { state: 'skipped', repository: 'r/x', reason: 'small' }, false],
    ['converting, recent', { state: 'converting', repository: 'r/x', claimedAt: now - 1000, attempts: 1 }, false],
    ['converting, stale (its task lost)', { state: 'converting', repository: 'r/x', claimedAt: now - SOCI_CLAIM_STALE_MS, attempts: 1 }, true],
    ['failed with attempts left', { state: 'failed', repository: 'r/x', reason: 'x', claimedAt: now, attempts: SOCI_MAX_ATTEMPTS - 1 }, true],
    ['failed out of attempts', { state: 'failed', repository: 'r/x', reason: 'x', claimedAt: now, attempts: SOCI_MAX_ATTEMPTS }, false],
  ];
  it.each(cases)('%s → %s', (_name, record, expected) => {
    expect(claimable(record, now)).toBe(expected);
  });
});

describe('where the copy goes and what the converter reports', () => {
  const job = { repository: 'slipway-docker-hub/library/node', digest: SOURCE };
  const target = sociTarget(job);
  const line = (fields: Record<string, unknown>) => `SLIPWAY_SOCI ${JSON.stringify({ source: SOURCE, converted: CONVERTED, ...target, ...fields })}`;

  it('puts it under slipway-soci/<cached repository>:soci-<digest hex>, a tag ECR takes (≤ 128 characters)', () => {
    expect(target).toEqual({ repository: 'slipway-soci/slipway-docker-hub/library/node', tag: `soci-${'a1'.repeat(32)}` });
    expect(target.tag.length).toBeLessThanOrEqual(128);
  });

  it('reads the last well-formed report of the stream and refuses one that points elsewhere', () => {
    expect(lastSociReport(['soci: converting', line({}), 'done'])).toEqual({ source: SOURCE, converted: CONVERTED, ...target });
    expect(parseSociReport(line({ tag: 'latest' }))).toBeUndefined();
    expect(parseSociReport(line({ repository: 'slipway-docker-hub/library/node' }))).toBeUndefined();
    expect(parseSociReport(line({ converted: SOURCE }))).toBeUndefined();
    expect(parseSociReport(line({ converted: 'sha256:zz' }))).toBeUndefined();
    expect(parseSociReport('SLIPWAY_SOCI {not json')).toBeUndefined();
  });

  it('believes a report only from the task the claim started, for that repository', () => {
    const report = parseSociReport(line({}))!;
    const claim: SociRecord = { state: 'converting', repository: job.repository, claimedAt: 1, attempts: 1, taskArn: 'arn:task/1' };
    expect(sociReportAccepted(report, claim, 'arn:task/1')).toBe(true);
    expect(sociReportAccepted(report, claim, 'arn:task/2')).toBe(false);
    expect(sociReportAccepted(report, { ...claim, repository: 'slipway-quay/other' }, 'arn:task/1')).toBe(false);
    expect(sociReportAccepted(report, { state: 'converted', repository: job.repository, convertedDigest: CONVERTED, convertedAt: 1 }, 'arn:task/1')).toBe(false);
    expect(sociReportAccepted(report, undefined, 'arn:task/1')).toBe(false);
  });

  it("starts one task per claim: the same attempt's RunTask has the same token, the next another", () => {
    const hash = (text: string) => createHash('sha256').update(text).digest('hex');
    const config = { taskDefinition: 'slipway-soci-converter', registry: REGISTRY, prefixes: PREFIXES };
    const first = converterRun(job, config, 1, hash);
    expect(converterRun(job, config, 1, hash)).toEqual(first);
    expect(converterRun(job, config, 2, hash).clientToken).not.toBe(first.clientToken);
    expect(first.startedBy.length).toBeLessThanOrEqual(36);
    expect(first.startedBy.startsWith('slipway-soci-')).toBe(true);
    expect(first.overrides.containerOverrides[0]!.environment).toEqual([
      { name: 'SLIPWAY_SOCI_SOURCE', value: `${REGISTRY}/slipway-docker-hub/library/node` },
      { name: 'SLIPWAY_SOCI_DIGEST', value: SOURCE },
      { name: 'SLIPWAY_SOCI_TARGET', value: `${REGISTRY}/slipway-soci/slipway-docker-hub/library/node:soci-${'a1'.repeat(32)}` },
    ]);
  });
});

describe('convertedReference (the image a task definition names)', () => {
  const cached = `${REGISTRY}/slipway-docker-hub/library/node:20`;
  const NOW = 1_000_000;
  const converted: SociRecord = { state: 'converted', repository: 'slipway-docker-hub/library/node', convertedDigest: CONVERTED, convertedAt: NOW - 1000 };

  it('names the converted copy by digest when the tag resolves to a converted source', () => {
    const ref = convertedReference(cached, SOURCE, converted, NOW);
    expect(ref).toBe(`${REGISTRY}/slipway-soci/slipway-docker-hub/library/node@${CONVERTED}`);
    expect(isConvertedImage(ref!)).toBe(true);
    expect(isConvertedImage(cached)).toBe(false);
  });

  it('stops naming a copy at its expiry (ECR expires it 30 days after its push)', () => {
    expect(convertedReference(cached, SOURCE, converted, converted.convertedAt + SOCI_COPY_LIFETIME_MS - 1)).toBeDefined();
    expect(convertedReference(cached, SOURCE, converted, converted.convertedAt + SOCI_COPY_LIFETIME_MS)).toBeUndefined();
  });

  it('keeps the cached tag while converting, skipped or failed, for another repository, or a reference pinned elsewhere', () => {
    expect(convertedReference(cached, SOURCE, undefined, NOW)).toBeUndefined();
    expect(convertedReference(cached, SOURCE, { state: 'converting', repository: converted.repository, claimedAt: 1, attempts: 1 }, NOW)).toBeUndefined();
    expect(convertedReference(cached, SOURCE, { ...converted, repository: 'slipway-docker-hub/library/other' }, NOW)).toBeUndefined();
    expect(convertedReference(`${REGISTRY}/slipway-docker-hub/library/node@sha256:${'0'.repeat(64)}`, SOURCE, converted, NOW)).toBeUndefined();
    expect(convertedReference(`${REGISTRY}/slipway-docker-hub/library/node@${SOURCE}`, SOURCE, converted, NOW)).toBe(`${REGISTRY}/slipway-soci/slipway-docker-hub/library/node@${CONVERTED}`);
  });
});

// ECS DescribeTasks (API_Task.html): `startedBy` as RunTask set it, `lastStatus` (PROVISIONING …
// DEPROVISIONING, STOPPED), `cpu` in units as a string.
describe('convertersHoldingVcpu (the converters the scaling decision counts)', () => {
  const arn = (n: number) => `arn:aws:ecs:us-east-1:1:task/slipway/${n}`;
  it('counts tasks a converter started until ECS says STOPPED, once each, with the CPU ECS gives', () => {
    expect(
      convertersHoldingVcpu([
        { taskArn: arn(1), startedBy: `${SOCI_STARTED_BY_PREFIX}abc`, lastStatus: 'RUNNING', cpu: '1024' },
        { taskArn: arn(2), startedBy: `${SOCI_STARTED_BY_PREFIX}def`, lastStatus: 'DEPROVISIONING', cpu: '2048' },
        { taskArn: arn(3), startedBy: `${SOCI_STARTED_BY_PREFIX}ghi`, lastStatus: 'STOPPED', cpu: '1024' },
        { taskArn: arn(4), startedBy: 'slipway-svc-0123', lastStatus: 'RUNNING', cpu: '1024' },
        { taskArn: arn(5), lastStatus: 'RUNNING', cpu: '1024' },
        { taskArn: arn(6), startedBy: `${SOCI_STARTED_BY_PREFIX}jkl`, lastStatus: 'PROVISIONING' },
        { taskArn: arn(1), startedBy: `${SOCI_STARTED_BY_PREFIX}abc`, lastStatus: 'RUNNING', cpu: '1024' },
      ]),
    ).toEqual([
      { taskArn: arn(1), cpu: 1024 },
      { taskArn: arn(2), cpu: 2048 },
      { taskArn: arn(6), cpu: SOCI_CONVERTER_CPU },
    ]);
  });

  it('lists by the family of the task definition however it is named (ListTasks filters by family)', () => {
    expect(taskDefinitionFamily('slipway-soci-converter')).toBe('slipway-soci-converter');
    expect(taskDefinitionFamily('slipway-soci-converter:7')).toBe('slipway-soci-converter');
    expect(taskDefinitionFamily('arn:aws:ecs:us-east-1:123456789012:task-definition/slipway-soci-converter:7')).toBe('slipway-soci-converter');
  });
});
