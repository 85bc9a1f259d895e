// The SOCI index store on the build table (DynamoDB Local): duplicates, retries and events out
// of order change nothing they should not (one claim per source digest, a report taken only by
// a claim, a skipped or converted image never claimed again, a unit of a repository's daily
// budget spent only by a claim that is won and not given back).

import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SOCI_BUDGET_SK, sociBudgetPk } from '../../adapters/dynamodb/keys.js';
import { DynamoSociIndexStore } from '../../adapters/dynamodb/soci-store.js';
import { SOCI_CLAIM_STALE_MS, SOCI_COPY_LIFETIME_MS, SOCI_MAX_ATTEMPTS, type ConversionCharge } from '../../core/images/soci.js';
import { startDynamoLocal, type LocalDynamo } from '../support/dynamodb-local.js';

let db: LocalDynamo;
let store: DynamoSociIndexStore;
let n = 0;
/** A fresh source digest per test. */
const digest = () => `sha256:${(++n).toString(16).padStart(64, '0')}`;
const CONVERTED = `sha256:${'c'.repeat(64)}`;
const TASK = 'arn:aws:ecs:us-east-1:123456789012:task/c/converter';
const job = (d: string) => ({ repository: 'slipway-docker-hub/library/node', tag: '20', digest: d });
/** A budget the tests that are not about the budget never reach. */
const ROOMY: ConversionCharge = { repo: 'acme/roomy', day: '2026-12-03', limit: 1_000_000 };
const ROOMY_CHARGED = { repo: ROOMY.repo, day: ROOMY.day };

/** The units of `repo`'s budget of `day` spent, as the table holds them. */
async function spent(repo: string, day: string): Promise<number> {
  const res = await db.doc.send(new GetCommand({ TableName: db.tableName, Key: { PK: sociBudgetPk(repo, day), SK: SOCI_BUDGET_SK }, ConsistentRead: true }));
  return (res.Item?.conversions as number | undefined) ?? 0;
}

beforeAll(async () => {
  db = await startDynamoLocal('soci-store');
  store = new DynamoSociIndexStore(db.doc, db.tableName);
});

afterAll(async () => {
  await db?.stop();
});

describe('DynamoSociIndexStore', () => {
  it('gives a digest one claim, whatever the number of duplicate events racing for it', async () => {
    const d = digest();
    const claims = await Promise.all(Array.from({ length: 5 }, () => store.claim(job(d), 1_000, ROOMY)));
    expect(claims.filter((c) => c === 'claimed')).toHaveLength(1);
    expect(claims.filter((c) => c === 'unclaimable')).toHaveLength(4);
    expect(await store.get(d)).toEqual({ state: 'converting', repository: 'slipway-docker-hub/library/node', claimedAt: 1_000, attempts: 1, charged: ROOMY_CHARGED });
  });

  it('records the task, then its report; a second report or a late claim changes nothing', async () => {
    const d = digest();
    expect(await store.claim(job(d), 1_000, ROOMY)).toBe('claimed');
    await store.started(d, 'arn:aws:ecs:us-east-1:123456789012:task/c/1');
    expect(await store.get(d)).toMatchObject({ state: 'converting', taskArn: 'arn:aws:ecs:us-east-1:123456789012:task/c/1' });
    await store.converted(d, CONVERTED, 2_000, 'arn:aws:ecs:us-east-1:123456789012:task/c/1');
    await store.converted(d, `sha256:${'d'.repeat(64)}`, 3_000, 'arn:aws:ecs:us-east-1:123456789012:task/c/1');
    await store.failed(d, 'late failure', 4_000, 'arn:aws:ecs:us-east-1:123456789012:task/c/1');
    expect(await store.claim(job(d), 10 * SOCI_CLAIM_STALE_MS, ROOMY)).toBe('unclaimable');
    expect(await store.get(d)).toEqual({ state: 'converted', repository: 'slipway-docker-hub/library/node', convertedDigest: CONVERTED, convertedAt: 2_000 });
  });

  it('claims a converted image again once its copy reaches its expiry (ECR expires it 30 days after its push), with attempts anew', async () => {
    const d = digest();
    await store.claim(job(d), 0, ROOMY);
    await store.started(d, TASK);
    await store.converted(d, CONVERTED, 1_000, TASK);
    expect(await store.claim(job(d), 1_000 + SOCI_COPY_LIFETIME_MS - 1, ROOMY)).toBe('unclaimable');
    expect(await store.claim(job(d), 1_000 + SOCI_COPY_LIFETIME_MS, ROOMY)).toBe('claimed');
    expect(await store.get(d)).toMatchObject({ state: 'converting', attempts: 1 });
  });

  it('keeps a stale claim whose converter ECS still has only as it was read: refreshed with that task, and claimed again only an hour later', async () => {
    const d = digest();
    await store.claim(job(d), 0, ROOMY);
    await store.started(d, TASK);
    // A caller that read an older claim changes nothing.
    expect(await store.kept(d, 1, TASK, SOCI_CLAIM_STALE_MS + 1)).toBe(false);
    expect(await store.kept(d, 0, TASK, SOCI_CLAIM_STALE_MS + 1)).toBe(true);
    expect(await store.get(d)).toEqual({ state: 'converting', repository: 'slipway-docker-hub/library/node', claimedAt: SOCI_CLAIM_STALE_MS + 1, attempts: 1, taskArn: TASK, charged: ROOMY_CHARGED });
    expect(await store.claim(job(d), SOCI_CLAIM_STALE_MS + 2, ROOMY)).toBe('unclaimable');
    expect(await store.claim(job(d), 2 * SOCI_CLAIM_STALE_MS + 1, ROOMY)).toBe('claimed');
    // Nor is a claim that is no longer converting kept.
    await store.failed(d, 'exited 1', 2 * SOCI_CLAIM_STALE_MS + 2);
    expect(await store.kept(d, 2 * SOCI_CLAIM_STALE_MS + 1, TASK, 3 * SOCI_CLAIM_STALE_MS)).toBe(false);
  });

  it('keeps the images trusted builds name, the latest naming of each key winning', async () => {
    const keys = [`slipway-docker-hub/library/node:${n}`, `slipway-docker-hub/library/node@${digest()}`];
    expect(await store.namings(keys)).toEqual([]);
    await store.nameImages(keys, 'acme/api', 1_000);
    await store.nameImages([keys[0]!], 'acme/web', 2_000);
    expect((await store.namings(keys)).sort((a, b) => a.namedAt - b.namedAt)).toEqual([{ repo: 'acme/api', namedAt: 1_000 }, { repo: 'acme/web', namedAt: 2_000 }]);
  });

  it("charges a repository's day one unit per claim won, up to the limit, each day and repository apart: racing duplicates of one image cost one unit", async () => {
    const charge = { repo: 'acme/flood', day: '2026-12-03', limit: 3 };
    const d = digest();
    // Five deliveries of one image's job: one claim, one unit (a charge before the claim cost five).
    const claims = await Promise.all(Array.from({ length: 5 }, () => store.claim(job(d), 1_000, charge)));
    expect(claims.filter((c) => c === 'claimed')).toHaveLength(1);
    expect(await spent('acme/flood', '2026-12-03')).toBe(1);
    // Other images, racing for the two units left: two claimed, the rest over the budget and unclaimed.
    const others = [digest(), digest(), digest(), digest()];
    const answers = await Promise.all(others.map((o) => store.claim(job(o), 1_000, charge)));
    expect(answers.filter((c) => c === 'claimed')).toHaveLength(2);
    expect(answers.filter((c) => c === 'over-budget')).toHaveLength(2);
    expect(await spent('acme/flood', '2026-12-03')).toBe(3);
    for (const [i, o] of others.entries()) expect(await store.get(o)).toEqual(answers[i] === 'claimed' ? expect.objectContaining({ state: 'converting' }) : undefined);
    expect(await store.claim(job(digest()), 1_000, { ...charge, day: '2026-12-04' })).toBe('claimed');
    expect(await store.claim(job(digest()), 1_000, { ...charge, repo: 'acme/other' })).toBe('claimed');
  });

  it('charges nothing for a claim lost to a converted, skipped or running conversion, nor once the day is spent', async () => {
    const charge = { repo: 'acme/late', day: '2026-12-03', limit: 2 };
    const [converted, skipped, running] = [digest(), digest(), digest()];
    expect(await store.claim(job(converted), 0, charge)).toBe('claimed');
    await store.started(converted, TASK);
    await store.converted(converted, CONVERTED, 1, TASK);
    await store.skip(job(skipped), 'small');
    expect(await store.claim(job(running), 0, charge)).toBe('claimed');
    expect(await spent('acme/late', '2026-12-03')).toBe(2);
    // Late and duplicate events of all three, with the day spent: unclaimable (not over budget), and free.
    for (const d of [converted, skipped, running]) expect(await store.claim(job(d), 2, charge)).toBe('unclaimable');
    expect(await spent('acme/late', '2026-12-03')).toBe(2);
    expect(await store.claim(job(digest()), 2, charge)).toBe('over-budget');
    expect(await spent('acme/late', '2026-12-03')).toBe(2);
  });

  it('gives the unit back with a released claim, once, however often the release is repeated; not for a claim whose converter runs', async () => {
    const charge = { repo: 'acme/refund', day: '2026-12-03', limit: 1 };
    const d = digest();
    expect(await store.claim(job(d), 1, charge)).toBe('claimed');
    const claimed = await store.get(d);
    expect(claimed).toEqual({ state: 'converting', repository: 'slipway-docker-hub/library/node', claimedAt: 1, attempts: 1, charged: { repo: 'acme/refund', day: '2026-12-03' } });
    const charged = claimed?.state === 'converting' ? claimed.charged : undefined;
    await Promise.all([store.released(d, 'RunTask: Capacity is unavailable at this time', 2, charged), store.released(d, 'a duplicate', 2, charged)]);
    expect(await spent('acme/refund', '2026-12-03')).toBe(0);
    await store.released(d, 'a late duplicate', 3, charged);
    expect(await spent('acme/refund', '2026-12-03')).toBe(0);
    // The unit given back converts the image at its next event; that claim's converter runs, so a late refusal keeps it.
    expect(await store.claim(job(d), 4, charge)).toBe('claimed');
    await store.started(d, TASK);
    await store.released(d, 'a late refusal', 5, charged);
    expect(await spent('acme/refund', '2026-12-03')).toBe(1);
    expect(await store.claim(job(digest()), 6, charge)).toBe('over-budget');
  });

  it('takes no report for a digest nobody claimed', async () => {
    const d = digest();
    await store.converted(d, CONVERTED, 1, TASK);
    expect(await store.get(d)).toBeUndefined();
  });

  it("takes a report or a failure only from the task of the claim as it is when written, not an earlier claim's", async () => {
    // A stop event of the first claim's task, read while that claim held, written after the claim moved on.
    const d = digest();
    const [first, second] = ['arn:aws:ecs:us-east-1:123456789012:task/c/first', 'arn:aws:ecs:us-east-1:123456789012:task/c/second'];
    await store.claim(job(d), 0, ROOMY);
    await store.started(d, first);
    await store.failed(d, 'the converter exited 1', 1, first);
    expect(await store.claim(job(d), 2, ROOMY)).toBe('claimed');
    await store.started(d, second);
    await store.failed(d, 'the converter exited 1 (a duplicate of the first task\'s stop)', 3, first);
    await store.converted(d, CONVERTED, 4, first);
    expect(await store.get(d)).toEqual({ state: 'converting', repository: 'slipway-docker-hub/library/node', claimedAt: 2, attempts: 2, taskArn: second, charged: ROOMY_CHARGED });
    await store.converted(d, CONVERTED, 5, second);
    expect(await store.get(d)).toMatchObject({ state: 'converted', convertedDigest: CONVERTED, convertedAt: 5 });
  });

  it('claims a stale conversion again (its task lost), and a failed one, up to the attempts allowed', async () => {
    const d = digest();
    expect(await store.claim(job(d), 0, ROOMY)).toBe('claimed');
    expect(await store.claim(job(d), SOCI_CLAIM_STALE_MS - 1, ROOMY)).toBe('unclaimable');
    expect(await store.claim(job(d), SOCI_CLAIM_STALE_MS, ROOMY)).toBe('claimed');
    for (let attempt = 2; attempt < SOCI_MAX_ATTEMPTS; attempt++) {
      await store.failed(d, `attempt ${attempt} failed`, SOCI_CLAIM_STALE_MS);
      expect(await store.claim(job(d), SOCI_CLAIM_STALE_MS, ROOMY)).toBe('claimed');
    }
    await store.failed(d, 'last attempt failed', SOCI_CLAIM_STALE_MS);
    expect(await store.claim(job(d), 100 * SOCI_CLAIM_STALE_MS, ROOMY)).toBe('unclaimable');
    expect(await store.get(d)).toMatchObject({ state: 'failed', attempts: SOCI_MAX_ATTEMPTS, reason: 'last attempt failed' });
  });

  it('lets go of a claim without a task without spending its attempt, and never of one whose converter runs', async () => {
    const d = digest();
    await store.claim(job(d), 1, ROOMY);
    await store.released(d, 'RunTask: Capacity is unavailable at this time', 2);
    expect(await store.get(d)).toEqual({ state: 'failed', repository: 'slipway-docker-hub/library/node', reason: 'RunTask: Capacity is unavailable at this time', claimedAt: 1, attempts: 0 });
    expect(await store.claim(job(d), 3, ROOMY)).toBe('claimed');
    await store.started(d, TASK);
    await store.released(d, 'a late refusal', 4);
    expect(await store.get(d)).toMatchObject({ state: 'converting', attempts: 1, taskArn: TASK });
  });

  it('never skips over a claim, and a skipped image is never claimed', async () => {
    const claimed = digest();
    await store.claim(job(claimed), 1, ROOMY);
    await store.skip(job(claimed), 'small');
    expect(await store.get(claimed)).toMatchObject({ state: 'converting' });

    const small = digest();
    await store.skip(job(small), '120.0 MB compressed, under 250 MB');
    expect(await store.claim(job(small), 10 * SOCI_CLAIM_STALE_MS, ROOMY)).toBe('unclaimable');
    expect(await store.get(small)).toEqual({ state: 'skipped', repository: 'slipway-docker-hub/library/node', reason: '120.0 MB compressed, under 250 MB' });
  });

  it('reads many at once, leaving unknown digests out', async () => {
    const [a, b, unknown] = [digest(), digest(), digest()];
    await store.claim(job(a), 1, ROOMY);
    await store.skip(job(b), 'small');
    const records = await store.getMany([a, b, unknown, a]);
    expect([...records.keys()].sort()).toEqual([a, b].sort());
    expect(records.get(b)).toMatchObject({ state: 'skipped' });
  });
});
