import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DescribeTableCommand, DescribeTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { MARSHALL_OPTIONS, documentClient } from '../../adapters/dynamodb/client.js';
import { DynamoBuildStore, type NewBuild } from '../../adapters/dynamodb/store.js';
import { buildId, type Build, type Stage, type StepRecord } from '../../core/builds/types.js';
import { DELIVERY_TTL_SECONDS, GSI_ACTIVE_STAGES, GSI_RECENT } from '../../adapters/dynamodb/keys.js';
import { parseBuildId, parseStageKey, repositoryUsesPullThroughCache } from '../../core/builds/types.js';
import { startDynamoLocal, type LocalDynamo } from '../support/dynamodb-local.js';

let db: LocalDynamo;
let store: DynamoBuildStore;

beforeAll(async () => {
  db = await startDynamoLocal();
  store = new DynamoBuildStore(db.doc, db.tableName);
});

afterAll(async () => {
  await db?.stop();
});

const repoInfo = (slug: string) => ({
  slug,
  scm: 'github' as const,
  httpUrl: `https://github.example/${slug}.git`,
  link: `https://github.example/${slug}`,
  defaultBranch: 'main',
  private: false,
});

function newBuild(repo: string, number: number, deliveryId: string, createdAt = Date.now(), stageCount = 2, stepsPerStage = 2): NewBuild {
  const id = buildId(repo, number);
  const build: Build = {
    id,
    repo,
    number,
    status: 'pending',
    event: 'push',
    action: '',
    ref: 'refs/heads/main',
    branch: 'main',
    commit: 'a'.repeat(40),
    message: 'change',
    author: 'octocat',
    link: 'https://github.example/commit',
    deliveryId,
    fork: false,
    createdAt,
  };
  const stages: Stage[] = [];
  const steps: StepRecord[] = [];
  for (let s = 1; s <= stageCount; s++) {
    stages.push({
      buildId: id,
      repo,
      buildNumber: number,
      number: s,
      name: `pipeline-${s}`,
      status: 'pending',
      dependsOn: s > 1 ? [`pipeline-${s - 1}`] : [],
      attempts: 0,
      queuedAt: createdAt + s,
    });
    for (let t = 1; t <= stepsPerStage; t++) {
      steps.push({
        buildId: id,
        stageNumber: s,
        number: t,
        name: `step-${t}`,
        container: `step-${t}`,
        status: 'pending',
        detached: false,
        kind: 'step',
      });
    }
  }
  return { build, stages, steps };
}

describe('table definition', () => {
  it('creates both GSIs and enables TTL on expiresAt', async () => {
    const table = await db.client.send(new DescribeTableCommand({ TableName: db.tableName }));
    expect(table.Table?.GlobalSecondaryIndexes?.map((g) => g.IndexName).sort()).toEqual([GSI_RECENT, GSI_ACTIVE_STAGES].sort());
    const ttl = await db.client.send(new DescribeTimeToLiveCommand({ TableName: db.tableName }));
    expect(ttl.TimeToLiveDescription?.AttributeName).toBe('expiresAt');
    expect(ttl.TimeToLiveDescription?.TimeToLiveStatus).toBe('ENABLED');
  });

  it('parses build ids and stage keys, including slashes in the slug', () => {
    expect(parseBuildId('org/app#12')).toEqual({ repo: 'org/app', number: 12 });
    expect(parseBuildId('org/app')).toBeNull();
    expect(parseBuildId('org/app#x')).toBeNull();
    expect(parseStageKey('group/sub/app#3/2')).toEqual({ buildId: 'group/sub/app#3', stageNumber: 2 });
    expect(parseStageKey('org/app#3')).toBeNull();
  });
});

describe('document client (adapters/dynamodb/client.ts)', () => {
  it('is the one the stores use: an undefined optional field is left out, not a refused write', async () => {
    const doc = documentClient(db.client);
    await doc.send(new PutCommand({ TableName: db.tableName, Item: { PK: 'TEST#marshal', SK: 'TEST', kept: 'yes', absent: undefined } }));
    const { Item } = await doc.send(new GetCommand({ TableName: db.tableName, Key: { PK: 'TEST#marshal', SK: 'TEST' }, ConsistentRead: true }));
    expect(Item).toEqual({ PK: 'TEST#marshal', SK: 'TEST', kept: 'yes' });
    expect(db.doc.config.translateConfig?.marshallOptions).toEqual(MARSHALL_OPTIONS);
  });
});

describe('repositories', () => {
  it('creates once, refreshes host fields and keeps the counter and user settings', async () => {
    const first = await store.ensureRepository(repoInfo('acme/one'));
    expect(first).toMatchObject({ slug: 'acme/one', counter: 0, configPath: '.drone.yml', active: true });
    await store.updateRepositorySettings('acme/one', { configPath: 'ci/.drone.yml' });
    expect(await store.nextBuildNumber('acme/one')).toBe(1);
    const again = await store.ensureRepository({ ...repoInfo('acme/one'), defaultBranch: 'trunk' });
    expect(again).toMatchObject({ counter: 1, configPath: 'ci/.drone.yml', defaultBranch: 'trunk' });
  });

  it('hands out unique consecutive numbers under concurrency', async () => {
    await store.ensureRepository(repoInfo('acme/counter'));
    const numbers = await Promise.all(Array.from({ length: 40 }, () => store.nextBuildNumber('acme/counter')));
    expect([...numbers].sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
  });

  it('refuses a number for an unknown repository', async () => {
    await expect(store.nextBuildNumber('acme/missing')).rejects.toThrow(/acme\/missing does not exist/);
  });
});

describe('repository settings (slipway repo update)', () => {
  const activate = (slug: string, at = 1_000) => store.activateRepository({ slug, scm: 'github', visibility: 'private', activatedAt: at, trusted: false });

  it('changes only the named settings and says what they were; records when trust was set', async () => {
    await activate('acme/settings');
    const change = await store.changeRepositorySettings('acme/settings', { trusted: true }, 5_000);
    expect(change?.before).toMatchObject({ trusted: false, trustSetAt: 1_000, visibility: 'private' });
    expect(change?.before.capacity).toBeUndefined();
    expect(change?.after).toMatchObject({ trusted: true, trustSetAt: 5_000, visibility: 'private', private: true, active: true });
    expect(await store.getRepository('acme/settings')).toEqual(change?.after);
    const capacity = await store.changeRepositorySettings('acme/settings', { capacity: 'warm', visibility: 'public' }, 9_000);
    // Trust and when it was set stay as they were: they were not named.
    expect(capacity?.after).toMatchObject({ trusted: true, trustSetAt: 5_000, capacity: 'warm', visibility: 'public', private: false });
    expect(await store.getRepository('acme/settings')).toEqual(capacity?.after);
  });

  it('loses no concurrent change: settings named by different writers and build numbers handed out meanwhile all stay', async () => {
    await activate('acme/busy');
    const writes = [
      store.changeRepositorySettings('acme/busy', { trusted: true }, 2_000),
      store.changeRepositorySettings('acme/busy', { capacity: 'warm' }, 2_000),
      store.changeRepositorySettings('acme/busy', { visibility: 'internal' }, 2_000),
      ...Array.from({ length: 10 }, () => store.nextBuildNumber('acme/busy')),
    ];
    await Promise.all(writes);
    expect(await store.getRepository('acme/busy')).toMatchObject({ trusted: true, capacity: 'warm', visibility: 'internal', private: true, counter: 10, active: true });
  });

  it('changes nothing of a repository that is unknown or removed (no record is created, none revived)', async () => {
    expect(await store.changeRepositorySettings('acme/never', { trusted: true }, 1)).toBeNull();
    expect(await store.getRepository('acme/never')).toBeNull();
    await activate('acme/gone');
    await store.deactivateRepository('acme/gone');
    expect(await store.changeRepositorySettings('acme/gone', { trusted: true }, 1)).toBeNull();
    expect(await store.getRepository('acme/gone')).toMatchObject({ active: false, trusted: false });
    await expect(store.changeRepositorySettings('acme/gone', {}, 1)).rejects.toThrow(/nothing to change for repository acme\/gone/);
  });

  it('with the activation the caller read, changes only that one: a repository removed and added again meanwhile is left alone', async () => {
    await activate('acme/readd-race', 1_000);
    await store.deactivateRepository('acme/readd-race');
    await store.activateRepository({ slug: 'acme/readd-race', scm: 'gitlab', visibility: 'private', activatedAt: 2_000 });
    expect(await store.changeRepositorySettings('acme/readd-race', { trusted: true }, 3_000, 1_000)).toBeNull();
    expect(await store.getRepository('acme/readd-race')).toMatchObject({ scm: 'gitlab', trusted: false, trustSetAt: 2_000 });
    expect((await store.changeRepositorySettings('acme/readd-race', { trusted: true }, 3_000, 2_000))?.after).toMatchObject({ scm: 'gitlab', trusted: true });
  });

  it('activation decides trust afresh and records when', async () => {
    await activate('acme/readded');
    await store.changeRepositorySettings('acme/readded', { trusted: true, capacity: 'warm' }, 3_000);
    await store.deactivateRepository('acme/readded');
    expect(await activate('acme/readded', 7_000)).toMatchObject({ trusted: false, trustSetAt: 7_000 });
  });

  it('keeps the pull-through cache setting on the record: on at activation unless said, turned off and on in place, other settings and the counter kept', async () => {
    expect(await activate('acme/cache')).toMatchObject({ pullThroughCache: true });
    expect(await store.nextBuildNumber('acme/cache')).toBe(1);
    const off = await store.changeRepositorySettings('acme/cache', { pullThroughCache: false }, 4_000);
    expect(off?.before).toMatchObject({ pullThroughCache: true });
    expect(off?.after).toMatchObject({ pullThroughCache: false, trusted: false, trustSetAt: 1_000, visibility: 'private', counter: 1 });
    expect(await store.getRepository('acme/cache')).toEqual(off?.after);
    const on = await store.changeRepositorySettings('acme/cache', { pullThroughCache: true }, 5_000);
    expect(on?.after).toMatchObject({ pullThroughCache: true, trustSetAt: 1_000 });
    expect(await store.getRepository('acme/cache')).toEqual(on?.after);
    // Opted out at activation (repo add --no-pull-through-cache); an activation after a removal decides afresh.
    await store.deactivateRepository('acme/cache');
    expect(await store.activateRepository({ slug: 'acme/cache', scm: 'github', visibility: 'private', activatedAt: 6_000, pullThroughCache: false })).toMatchObject({ pullThroughCache: false, counter: 1 });
    await store.deactivateRepository('acme/cache');
    expect(await activate('acme/cache', 7_000)).toMatchObject({ pullThroughCache: true });
  });

  it('reads a record written before the setting existed as on, and changes it with the others in one write', async () => {
    // A record as activateRepository wrote it before: no pullThroughCache attribute.
    await store.ensureRepository(repoInfo('acme/old-record'));
    const old = (await store.getRepository('acme/old-record'))!;
    expect(old.pullThroughCache).toBeUndefined();
    expect(repositoryUsesPullThroughCache(old)).toBe(true);
    const writes = [
      store.changeRepositorySettings('acme/old-record', { pullThroughCache: false }, 2_000),
      store.changeRepositorySettings('acme/old-record', { capacity: 'warm' }, 2_000),
      ...Array.from({ length: 5 }, () => store.nextBuildNumber('acme/old-record')),
    ];
    await Promise.all(writes);
    const after = (await store.getRepository('acme/old-record'))!;
    expect(after).toMatchObject({ pullThroughCache: false, capacity: 'warm', counter: 5 });
    expect(repositoryUsesPullThroughCache(after)).toBe(false);
  });
});

describe('deliveries', () => {
  it('records a delivery once, with a 7-day expiry', async () => {
    const receivedAt = Date.now();
    expect(await store.recordDelivery({ id: 'd-1', host: 'github', event: 'push', receivedAt })).toBe(true);
    expect(await store.recordDelivery({ id: 'd-1', host: 'github', event: 'push', receivedAt: receivedAt + 1 })).toBe(false);
    const delivery = await store.getDelivery('d-1');
    expect(delivery).toMatchObject({ host: 'github', state: 'received', expiresAt: Math.floor(receivedAt / 1000) + DELIVERY_TTL_SECONDS });
    await store.markDelivery('d-1', 'enqueued');
    expect(await store.recordDelivery({ id: 'd-1', host: 'github', event: 'push', receivedAt: receivedAt + 10 * 60_000 })).toBe(false);
  });

  it('lets a redelivery through after a failed enqueue or a delivery left half-done', async () => {
    const t = Date.now();
    expect(await store.recordDelivery({ id: 'd-fail', host: 'gitea', event: 'push', receivedAt: t })).toBe(true);
    await store.markDelivery('d-fail', 'failed');
    expect(await store.recordDelivery({ id: 'd-fail', host: 'gitea', event: 'push', receivedAt: t + 1 })).toBe(true);
    expect((await store.getDelivery('d-fail'))?.state).toBe('received');
    // Still `received` one minute later: the webhook that recorded it never finished.
    expect(await store.recordDelivery({ id: 'd-fail', host: 'gitea', event: 'push', receivedAt: t + 30_000 })).toBe(false);
    expect(await store.recordDelivery({ id: 'd-fail', host: 'gitea', event: 'push', receivedAt: t + 61_000 })).toBe(true);
  });

  it('admits exactly one of many concurrent identical deliveries', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, () => store.recordDelivery({ id: 'd-race', host: 'gitea', event: 'push', receivedAt: Date.now() })),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
  });
});

describe('builds', () => {
  it('creates a build with its stages and steps, and a second attempt for the same delivery creates nothing', async () => {
    await store.ensureRepository(repoInfo('acme/build'));
    const n = await store.nextBuildNumber('acme/build');
    const input = newBuild('acme/build', n, 'deliv-build');
    const created = await store.createBuild(input);
    expect(created).toEqual({ created: true, build: input.build });

    const retryNumber = await store.nextBuildNumber('acme/build');
    const retry = await store.createBuild(newBuild('acme/build', retryNumber, 'deliv-build'));
    expect(retry).toEqual({ created: false, buildId: input.build.id });
    expect(await store.getBuildByNumber('acme/build', retryNumber)).toBeNull();
    expect(await store.listStages(buildId('acme/build', retryNumber))).toEqual([]);
    expect(await store.buildForDelivery('deliv-build')).toBe(input.build.id);

    const detail = await store.getBuildDetail(input.build.id);
    expect(detail?.stages.map((s) => s.name)).toEqual(['pipeline-1', 'pipeline-2']);
    expect(detail?.stages[1]?.steps.map((s) => s.name)).toEqual(['step-1', 'step-2']);
    expect(detail?.stages[0]).not.toHaveProperty('PK');
    expect(await store.listSteps(input.build.id, 2)).toHaveLength(2);
  });

  it('writes nothing when the transaction fails (build number already taken)', async () => {
    await store.ensureRepository(repoInfo('acme/atomic'));
    await store.createBuild(newBuild('acme/atomic', 1, 'atomic-a'));
    await expect(store.createBuild(newBuild('acme/atomic', 1, 'atomic-b', Date.now(), 3))).rejects.toThrow(/already exists/);
    expect(await store.buildForDelivery('atomic-b')).toBeNull();
    expect(await store.listStages(buildId('acme/atomic', 1))).toHaveLength(2);
  });

  it('stores builds larger than one transaction', async () => {
    await store.ensureRepository(repoInfo('acme/big'));
    const input = newBuild('acme/big', 1, 'deliv-big', Date.now(), 6, 20);
    expect((await store.createBuild(input)).created).toBe(true);
    const { stages, steps } = await store.listStagesAndSteps(input.build.id);
    expect(stages).toHaveLength(6);
    expect(steps).toHaveLength(120);
  });

  // TransactWriteItems holds at most 100 items: https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html
  it('a duplicate delivery of a build larger than one transaction leaves none of its steps behind', async () => {
    await store.ensureRepository(repoInfo('acme/big-dup'));
    const first = newBuild('acme/big-dup', await store.nextBuildNumber('acme/big-dup'), 'deliv-big-dup', Date.now(), 4, 40);
    expect((await store.createBuild(first)).created).toBe(true);
    const again = await store.nextBuildNumber('acme/big-dup');
    expect(await store.createBuild(newBuild('acme/big-dup', again, 'deliv-big-dup', Date.now(), 4, 40))).toEqual({ created: false, buildId: first.build.id });
    expect(await store.listStagesAndSteps(buildId('acme/big-dup', again))).toEqual({ stages: [], steps: [] });
    expect((await store.listStagesAndSteps(first.build.id)).steps).toHaveLength(160);
  });

  it('a larger-than-a-transaction build under a number already taken writes nothing over that build', async () => {
    await store.ensureRepository(repoInfo('acme/big-taken'));
    await store.createBuild(newBuild('acme/big-taken', 1, 'big-taken-a', Date.now(), 2, 60));
    const intruder = newBuild('acme/big-taken', 1, 'big-taken-b', Date.now(), 2, 60);
    intruder.steps = intruder.steps.map((s) => ({ ...s, name: `intruder-${s.number}` }));
    await expect(store.createBuild(intruder)).rejects.toThrow(/already exists/);
    const steps = await store.listSteps(buildId('acme/big-taken', 1));
    expect(steps).toHaveLength(120);
    expect(steps.filter((s) => s.name.startsWith('intruder'))).toEqual([]);
    expect(await store.buildForDelivery('big-taken-b')).toBeNull();
  });

  it('refuses a build with more pipelines than one transaction holds, writing nothing (a stage never exists without its build)', async () => {
    await store.ensureRepository(repoInfo('acme/wide'));
    const wide = newBuild('acme/wide', 1, 'deliv-wide', Date.now(), 99, 1);
    await expect(store.createBuild(wide)).rejects.toThrow(/has 99 pipelines; a build holds at most 98/);
    expect(await store.listStagesAndSteps(wide.build.id)).toEqual({ stages: [], steps: [] });
    expect((await store.listActiveStages('pending', { limit: 1000 })).items.filter((s) => s.buildId === wide.build.id)).toEqual([]);
    expect(await store.buildForDelivery('deliv-wide')).toBeNull();
  });

  it('lists builds of a repository newest first, in pages, with numbers beyond 9 in order', async () => {
    await store.ensureRepository(repoInfo('acme/list'));
    for (let i = 0; i < 12; i++) {
      const n = await store.nextBuildNumber('acme/list');
      await store.createBuild(newBuild('acme/list', n, `list-${n}`, 1_000_000 + n, 0, 0));
    }
    const first = await store.listBuilds('acme/list', { limit: 5 });
    expect(first.items.map((b) => b.number)).toEqual([12, 11, 10, 9, 8]);
    const second = await store.listBuilds('acme/list', { limit: 5, cursor: first.cursor });
    expect(second.items.map((b) => b.number)).toEqual([7, 6, 5, 4, 3]);
    const third = await store.listBuilds('acme/list', { limit: 5, cursor: second.cursor });
    expect(third.items.map((b) => b.number)).toEqual([2, 1]);
  });

  it('lists recent builds across repositories, newest first', async () => {
    const base = 9_000_000_000_000;
    await store.ensureRepository(repoInfo('zeta/a'));
    await store.ensureRepository(repoInfo('zeta/b'));
    await store.createBuild(newBuild('zeta/a', 1, 'recent-1', base + 1, 0, 0));
    await store.createBuild(newBuild('zeta/b', 1, 'recent-2', base + 2, 0, 0));
    await store.createBuild(newBuild('zeta/a', 2, 'recent-3', base + 3, 0, 0));
    const page = await store.listRecentBuilds({ limit: 2 });
    expect(page.items.map((b) => b.id)).toEqual(['zeta/a#2', 'zeta/b#1']);
    const next = await store.listRecentBuilds({ limit: 1, cursor: page.cursor });
    expect(next.items.map((b) => b.id)).toEqual(['zeta/a#1']);
  });

  it('never moves a build status backwards', async () => {
    await store.ensureRepository(repoInfo('acme/status'));
    await store.createBuild(newBuild('acme/status', 1, 'status-1', Date.now(), 0, 0));
    const id = buildId('acme/status', 1);
    expect((await store.updateBuild(id, { status: 'running', startedAt: 5 }))?.status).toBe('running');
    expect(await store.updateBuild(id, { status: 'pending' })).toBeNull();
    expect((await store.updateBuild(id, { status: 'failure', finishedAt: 9 }))?.status).toBe('failure');
    expect(await store.updateBuild(id, { status: 'success' })).toBeNull();
    expect(await store.updateBuild('acme/status#99', { status: 'running' })).toBeNull();
    expect(await store.getBuild(id)).toMatchObject({ status: 'failure', startedAt: 5, finishedAt: 9 });
  });
});

describe('stages and steps', () => {
  it('applies ECS events in version order only and keeps the active-stage index in step', async () => {
    await store.ensureRepository(repoInfo('acme/stage'));
    const input = newBuild('acme/stage', 1, 'stage-1', Date.now(), 2, 1);
    await store.createBuild(input);
    const id = input.build.id;
    const pending = await store.listActiveStages('pending', { limit: 1000 });
    expect(pending.items.filter((s) => s.buildId === id).map((s) => s.number)).toEqual([1, 2]);

    const running = await store.updateStage(id, 1, { status: 'running', taskArn: 'arn:task/1', startedAt: 10 }, { eventVersion: 3 });
    expect(running).toMatchObject({ status: 'running', eventVersion: 3, taskArn: 'arn:task/1' });
    // An older event arriving late changes nothing; so does a duplicate.
    expect(await store.updateStage(id, 1, { status: 'pending' }, { eventVersion: 2 })).toBeNull();
    expect(await store.updateStage(id, 1, { status: 'running' }, { eventVersion: 3 })).toBeNull();
    expect((await store.listActiveStages('running', { limit: 1000 })).items.some((s) => s.buildId === id && s.number === 1)).toBe(true);

    const done = await store.updateStage(id, 1, { status: 'success', reason: 'steps-passed', exitCode: 0 }, { eventVersion: 5 });
    expect(done?.status).toBe('success');
    expect(await store.updateStage(id, 1, { status: 'failure' }, { eventVersion: 6 })).toBeNull();
    const activeAfter = [
      ...(await store.listActiveStages('running', { limit: 1000 })).items,
      ...(await store.listActiveStages('pending', { limit: 1000 })).items,
    ].filter((s) => s.buildId === id);
    expect(activeAfter.map((s) => s.number)).toEqual([2]);
  });

  it('moves a running stage back to pending only through an explicit fromStatuses guard (requeue)', async () => {
    await store.ensureRepository(repoInfo('acme/requeue'));
    const input = newBuild('acme/requeue', 1, 'requeue-1', Date.now(), 1, 1);
    await store.createBuild(input);
    const id = input.build.id;
    await store.updateStage(id, 1, { status: 'running', attempts: 1 });
    expect(await store.updateStage(id, 1, { status: 'pending' })).toBeNull();
    const requeued = await store.updateStage(id, 1, { status: 'pending', attempts: 2, capacity: 'FARGATE' }, { fromStatuses: ['running'] });
    expect(requeued).toMatchObject({ status: 'pending', attempts: 2 });
    expect(await store.updateStage(id, 1, { status: 'pending', attempts: 3 }, { fromStatuses: ['running'] })).toBeNull();
  });

  it('guards step statuses the same way', async () => {
    await store.ensureRepository(repoInfo('acme/step'));
    const input = newBuild('acme/step', 1, 'step-1', Date.now(), 1, 2);
    await store.createBuild(input);
    const id = input.build.id;
    expect((await store.updateStep(id, 1, 2, { status: 'running', startedAt: 1 }))?.status).toBe('running');
    expect((await store.updateStep(id, 1, 2, { status: 'failure', exitCode: 2 }))?.exitCode).toBe(2);
    expect(await store.updateStep(id, 1, 2, { status: 'running' })).toBeNull();
    expect(await store.updateStep(id, 1, 9, { status: 'running' })).toBeNull();
    expect((await store.listSteps(id, 1)).map((s) => s.status)).toEqual(['pending', 'failure']);
  });
});
