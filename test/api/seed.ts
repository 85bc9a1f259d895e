// Builds with stages and steps, written through the real store, for API tests and the
// dashboard benchmark.

import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { recentRecordsReader } from '../../adapters/dynamodb/recent-records.js';
import { DynamoStageStore } from '../../adapters/dynamodb/stage-store.js';
import type { DynamoBuildStore } from '../../adapters/dynamodb/store.js';
import type { LogReader } from '../../core/logs/log-reader.js';
import type { ApiDeps } from '../../lambdas/api/router.js';
import { buildId, type Build, type BuildStatus, type Stage, type StepRecord } from '../../core/builds/types.js';

export interface SeedBuild {
  repo: string;
  number: number;
  status?: BuildStatus;
  branch?: string;
  /** The commit message (default `change N`). */
  message?: string;
  createdAt: number;
  /** When its webhook arrived (Build.receivedAt); absent as on builds stored before it was kept. */
  receivedAt?: number;
  /** Stage names in order; each gets the steps listed. */
  stages?: { name: string; status?: Stage['status']; taskArn?: string; serviceTaskArn?: string; dependsOn?: string[]; notes?: string[]; timeline?: Stage['timeline']; steps: { name: string; status?: StepRecord['status']; kind?: StepRecord['kind']; taskArn?: string }[] }[];
}

export async function seedBuild(store: DynamoBuildStore, seed: SeedBuild): Promise<Build> {
  const id = buildId(seed.repo, seed.number);
  const status = seed.status ?? 'success';
  const finished = !['pending', 'running'].includes(status);
  const build: Build = {
    id,
    repo: seed.repo,
    number: seed.number,
    status,
    event: 'push',
    action: '',
    ref: `refs/heads/${seed.branch ?? 'main'}`,
    branch: seed.branch ?? 'main',
    commit: 'c0ffee'.padEnd(40, '0'),
    message: seed.message ?? `change ${seed.number}`,
    author: 'octocat',
    link: `https://git.example/${seed.repo}`,
    deliveryId: `seed-${id}`,
    fork: false,
    createdAt: seed.createdAt,
    ...(seed.receivedAt !== undefined ? { receivedAt: seed.receivedAt } : {}),
    ...(status !== 'pending' ? { startedAt: seed.createdAt + 1000 } : {}),
    ...(finished ? { finishedAt: seed.createdAt + 61_000 } : {}),
  };
  const stages: Stage[] = [];
  const steps: StepRecord[] = [];
  for (const [i, s] of (seed.stages ?? [{ name: 'test', steps: [{ name: 'clone', kind: 'clone' as const }, { name: 'build' }, { name: 'test' }] }]).entries()) {
    const stageStatus = s.status ?? (status === 'running' ? 'running' : status);
    const stageFinished = !['pending', 'running'].includes(stageStatus);
    stages.push({
      buildId: id,
      repo: seed.repo,
      buildNumber: seed.number,
      number: i + 1,
      name: s.name,
      status: stageStatus,
      dependsOn: s.dependsOn ?? [],
      // A pending stage with a taskArn was claimed by its task's first event: that start counted.
      attempts: stageStatus === 'pending' && s.taskArn === undefined ? 0 : 1,
      queuedAt: seed.createdAt + 100,
      ...(stageStatus !== 'pending' ? { startedAt: seed.createdAt + 2000, taskArn: s.taskArn ?? `arn:aws:ecs:us-east-1:000000000000:task/slipway/${seed.number}${i}` } : {}),
      ...(stageStatus === 'pending' && s.taskArn !== undefined ? { taskArn: s.taskArn } : {}),
      ...(stageFinished ? { finishedAt: seed.createdAt + 60_000 } : {}),
      ...(s.notes ? { notes: s.notes } : {}),
      ...(s.timeline ? { timeline: s.timeline } : {}),
      ...(s.serviceTaskArn ? { serviceTaskArn: s.serviceTaskArn, segments: 2 } : {}),
    });
    for (const [j, st] of s.steps.entries()) {
      const stepStatus = st.status ?? (stageStatus === 'running' ? 'success' : (stageStatus as StepRecord['status']));
      const stepFinished = !['pending', 'running'].includes(stepStatus);
      steps.push({
        buildId: id,
        stageNumber: i + 1,
        number: j + 1,
        name: st.name,
        container: st.kind === 'clone' ? 'slipway-agent' : st.name,
        status: stepStatus,
        detached: false,
        kind: st.kind ?? 'step',
        ...(st.taskArn ? { taskArn: st.taskArn } : {}),
        ...(stepStatus !== 'pending' ? { startedAt: seed.createdAt + 3000 + j * 10_000 } : {}),
        ...(stepFinished ? { finishedAt: seed.createdAt + 12_000 + j * 10_000 } : {}),
        ...(stepFinished && stepStatus !== 'skipped' ? { exitCode: stepStatus === 'success' ? 0 : 1 } : {}),
      });
    }
  }
  const res = await store.createBuild({ build, stages, steps });
  if (!res.created) throw new Error(`seed: build ${id} was not created`);
  return build;
}

/**
 * The API's dependencies over a seeded table, as tests and benchmarks serve it: builds,
 * repositories and metrics from the table, step logs from `logs`; no task is stopped, no
 * build restarted and nothing logged unless `changes` says otherwise.
 */
export function seededApiDeps(store: DynamoBuildStore, table: { doc: DynamoDBDocumentClient; tableName: string }, logs: LogReader, changes: Partial<ApiDeps> = {}): ApiDeps {
  return {
    store,
    stages: new DynamoStageStore(table.doc, table.tableName),
    listRepositories: (page) => store.listRepositories(page),
    recentRecords: recentRecordsReader(table.doc, table.tableName),
    logs,
    logGraceMs: 0,
    stopTask: async () => {},
    restart: async () => {
      throw new Error('restart is not served here');
    },
    now: Date.now,
    log: () => {},
    ...changes,
  };
}
