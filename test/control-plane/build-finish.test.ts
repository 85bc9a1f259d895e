// Finishing a build as on AWS, where a read without ConsistentRead may miss a write that
// just completed (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.ReadConsistency.html):
// the DynamoDB stand-in here serves such reads from a copy a minute behind, so only the
// strongly consistent reads the state machine decides from see the latest stages.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { documentClient } from '../../adapters/dynamodb/client.js';
import { startDynamoDb, type LocalDynamoDb } from '../../local/dynamodb.js';
import { ensureTable } from '../../lambdas/shared/table.js';
import { DynamoBuildStore } from '../../adapters/dynamodb/store.js';
import { DynamoStageStore } from '../../adapters/dynamodb/stage-store.js';
import { buildId, type Build, type Stage } from '../../core/builds/types.js';
import type { TaskStateChangeDetail } from '../../core/builds/task-event.js';
import { AGENT_CONTAINER, AGENT_ENV } from '../../core/pipeline/contract.js';
import { applyTaskEvent } from '../../lambdas/shared/execution/apply-event.js';
import type { ExecutionDeps } from '../../lambdas/shared/execution/deps.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../support/dynamodb-local.js';
import { refusingJobQueue } from '../support/memory-stores.js';

let db: LocalDynamoDb;
let client: DynamoDBClient;
let store: DynamoBuildStore;
let stages: DynamoStageStore;
const table = 'finish-builds';

beforeAll(async () => {
  db = await startDynamoDb({ eventualConsistency: { lagMs: 60_000 } });
  client = new DynamoDBClient({ endpoint: db.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  await ensureTable(client, table);
  const doc = documentClient(client);
  store = new DynamoBuildStore(doc, table);
  stages = new DynamoStageStore(doc, table);
});

afterAll(async () => {
  client?.destroy();
  await db?.stop();
});

function deps(finished: Build[]): ExecutionDeps {
  return {
    store,
    stages,
    jobs: refusingJobQueue('no stage here has dependents'),
    postBuildStatus: async (build) => void finished.push(build),
    nudge: async () => {},
    now: Date.now,
    log: () => {},
  };
}

const taskArn = (n: number) => `arn:aws:ecs:us-east-1:000000000000:task/slipway/finish${n}`;

function stopped(id: string, stageNumber: number): TaskStateChangeDetail {
  return {
    clusterArn: 'arn:aws:ecs:us-east-1:000000000000:cluster/slipway',
    taskArn: taskArn(stageNumber),
    taskDefinitionArn: 'arn:aws:ecs:us-east-1:000000000000:task-definition/f:1',
    lastStatus: 'STOPPED',
    desiredStatus: 'STOPPED',
    version: 7,
    stopCode: 'EssentialContainerExited',
    stoppedAt: new Date().toISOString(),
    containers: [{ name: AGENT_CONTAINER, lastStatus: 'STOPPED', exitCode: 0 }],
    overrides: { containerOverrides: [{ name: AGENT_CONTAINER, environment: [{ name: AGENT_ENV.stageId, value: `${id}/${stageNumber}` }] }] },
  };
}

async function runningBuild(repo: string, stageCount: number): Promise<string> {
  const id = buildId(repo, 1);
  const now = Date.now();
  const build: Build = {
    id, repo, number: 1, status: 'running', event: 'push', action: '', ref: 'refs/heads/main', branch: 'main', commit: 'c'.repeat(40),
    message: '', author: '', link: '', deliveryId: `d-${repo}`, fork: false, createdAt: now, startedAt: now,
  };
  const list: Stage[] = Array.from({ length: stageCount }, (_, i) => ({
    buildId: id, repo, buildNumber: 1, number: i + 1, name: `p${i + 1}`, status: 'running', dependsOn: [], attempts: 1,
    taskArn: taskArn(i + 1), capacity: 'FARGATE', queuedAt: now, startedAt: now, eventVersion: 3,
  }));
  await store.createBuild({ build, stages: list, steps: [] });
  // The build was made long ago: every read sees it; only what follows is recent.
  await db.catchUp();
  return id;
}

describe('finishing a build under eventually consistent reads', () => {
  it('two stages ending together finish the build once, with its final status handed to the Git host path', async () => {
    const id = await runningBuild('acme/together', 2);
    const finished: Build[] = [];
    const results = await Promise.all([applyTaskEvent(deps(finished), stopped(id, 1)), applyTaskEvent(deps(finished), stopped(id, 2))]);
    expect(results.map((r) => r.applied)).toEqual([true, true]);
    const build = await store.getBuild(id);
    expect(build?.status).toBe('success');
    expect(finished.map((b) => [b.id, b.status])).toEqual([[id, 'success']]);
    expect(db.replayErrors().join("\n")).toBe("");
  });

  it('a stage that ends alone right after the other finishes the build', async () => {
    const id = await runningBuild('acme/one-after', 2);
    const finished: Build[] = [];
    await applyTaskEvent(deps(finished), stopped(id, 1));
    expect((await store.getBuild(id))?.status).toBe('running');
    await applyTaskEvent(deps(finished), stopped(id, 2));
    expect((await store.getBuild(id))?.status).toBe('success');
    expect(finished).toHaveLength(1);
  });
});

// What `slipway builds --repo` and the dashboard's repository filter show right after a build
// ends: the table's Query reads consistently, so the list has the build's final status at once;
// the index of every repository's builds cannot (DynamoDB refuses ConsistentRead on a GSI),
// and the stand-in's copy a minute behind shows that it still lags.
describe("listing a repository's builds right after a write", () => {
  it('shows the status the build just reached, where the index of every repository still has the old one', async () => {
    const id = await runningBuild('acme/listed', 1);
    await applyTaskEvent(deps([]), stopped(id, 1));
    expect((await store.listBuilds('acme/listed')).items.map((b) => [b.id, b.status])).toEqual([[id, 'success']]);
    expect((await store.listRecentBuilds()).items.find((b) => b.id === id)?.status).toBe('running');
  });
});
