// A fork's pull request runs with the fork execution role (lib/build-cluster.ts forkExecutionRole,
// refused the pull-through cache rules that fetch with the deployment's credentials) and the fork
// task role (forkTaskRole: nothing the build task role is given): the planner marks the stage's
// job, the autoscaler puts both roles in RunTask's overrides (TaskOverride.executionRoleArn and
// taskRoleArn, https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_TaskOverride.html),
// and the ECS stand-in records them as the task's.
import { DescribeTasksCommand, InvalidParameterException, RegisterTaskDefinitionCommand, RunTaskCommand } from '@aws-sdk/client-ecs';
import { describe, expect, it } from 'vitest';
import { cliContext } from '../../cli/commands/compile.js';
import { newBuildRecords } from '../../core/builds/new-build.js';
import { ENV } from '../../core/config/lambda-env.js';
import { compileManifest } from '../../core/pipeline/compile.js';
import { loadManifest } from '../../core/pipeline/load.js';
import { runTaskTokens, segmentJob, type StageJob } from '../../core/scaling/job.js';
import { executionConfig } from '../../lambdas/autoscaler/config.js';
import { serviceTaskConfig } from '../../lambdas/autoscaler/service-task.js';
import { isForkJob, runTaskInput } from '../../lambdas/autoscaler/start-stage.js';
import { buildCompileOptions, compileOptionsFromEnv } from '../../lambdas/planner/compile-options.js';
import { FIXTURE_ENV } from '../compiler/support.js';
import { ecsForFile, family, sh } from '../local/helpers.js';
import { MAX_FORK_ROLE_ARN_CHARS, UPSTREAM_RESERVE, startOverridesError, upstreamOverride } from '../../core/pipeline/override-budget.js';
import { MAX_OVERRIDE_CHARS } from '../../core/pipeline/limits.js';
import { MemoryBuildStore, MemoryJobQueue, MemoryStageStore } from '../support/memory-stores.js';
import { resetAutoscalerState, runPass } from '../../lambdas/autoscaler/autoscaler.js';
import type { AutoscalerDeps } from '../../lambdas/autoscaler/deps.js';
import { DEFAULT_LIMITS } from '../../core/scaling/decide-scale.js';
import { AGENT_CONTAINER, AGENT_ENV } from '../../core/pipeline/contract.js';
import type { Build } from '../../core/builds/types.js';

const EXECUTION_ROLE = 'arn:aws:iam::123456789012:role/slipway-execution';
const FORK_ROLE = 'arn:aws:iam::123456789012:role/slipway-fork-execution';
const TASK_ROLE = 'arn:aws:iam::123456789012:role/slipway-build';
const FORK_TASK_ROLE = 'arn:aws:iam::123456789012:role/slipway-fork-build';
const config = executionConfig({
  [ENV.tableName]: 'builds',
  [ENV.jobsQueueUrl]: 'http://localhost/jobs',
  [ENV.subnetIds]: 'subnet-1',
  [ENV.taskExecutionRoleArn]: EXECUTION_ROLE,
  [ENV.forkTaskExecutionRoleArn]: FORK_ROLE,
  [ENV.taskRoleArn]: TASK_ROLE,
  [ENV.forkTaskRoleArn]: FORK_TASK_ROLE,
});

/** The jobs the planner stores for a one-pipeline pull request, from a fork or not. */
function jobsOf(fork: boolean): StageJob[] {
  const yaml = 'kind: pipeline\ntype: docker\nname: test\nsteps:\n- name: test\n  image: node:20\n  commands: [npm test]\n';
  const ctx = cliContext({ repo: 'acme/app', commit: 'a'.repeat(40), event: 'pull_request', action: 'opened', ...(fork ? { fork: true } : {}) });
  const manifest = loadManifest('.drone.yml', yaml);
  const options = buildCompileOptions(compileOptionsFromEnv(FIXTURE_ENV), { repoSlug: 'acme/app', buildNumber: ctx.build.number, fork });
  return newBuildRecords({ ctx, deliveryId: 'd-1', fork, now: 1 }, manifest, compileManifest(manifest, ctx, options)).jobs;
}

describe("the execution role of a fork's stage", () => {
  it("the planner marks every stage job, a fork's true and a trusted build's false", () => {
    expect(jobsOf(true).map((j) => j.fork)).toEqual([true]);
    expect(jobsOf(false).map((j) => j.fork)).toEqual([false]);
  });

  it("a job stored before jobs carried the mark runs as its build record says, and as a fork's when that build is gone", async () => {
    const store = new MemoryBuildStore();
    const records = (fork: boolean, id: string) => {
      const ctx = cliContext({ repo: 'acme/app', commit: 'a'.repeat(40), event: 'pull_request', action: 'opened', ...(fork ? { fork: true } : {}) });
      const { build } = newBuildRecords({ ctx, deliveryId: id, fork, now: 1 }, loadManifest('.drone.yml', 'kind: pipeline\ntype: docker\nname: t\nsteps:\n- name: t\n  image: node:20\n  commands: [true]\n'), { stages: [], skipped: [], errors: [] });
      return { ...build, id };
    };
    store.add(records(true, 'acme/app#1'), [], []);
    store.add(records(false, 'acme/app#2'), [], []);
    const deps = { config, store };
    // A legacy job (no `fork`) of a fork's build, a trusted build's, and a build no longer there.
    expect(await isForkJob(deps, { buildId: 'acme/app#1' })).toBe(true);
    expect(await isForkJob(deps, { buildId: 'acme/app#2' })).toBe(false);
    expect(await isForkJob(deps, { buildId: 'acme/app#3' })).toBe(true);
    // A marked job is taken at its word (the planner wrote it from the same build record).
    expect(await isForkJob(deps, { buildId: 'acme/app#3', fork: false })).toBe(false);
    expect(await isForkJob(deps, { buildId: 'acme/app#2', fork: true })).toBe(true);
    // Without a fork role (local mode) there is nothing to choose between.
    expect(await isForkJob({ config: {}, store }, { buildId: 'acme/app#1' })).toBe(false);
  });

  it("a legacy job of a fork's build in a deployment with a fork task role and no execution roles runs with the fork task role, never the build task role", async () => {
    const store = new MemoryBuildStore();
    const ctx = cliContext({ repo: 'acme/app', commit: 'a'.repeat(40), event: 'pull_request', action: 'opened', fork: true });
    const { build } = newBuildRecords({ ctx, deliveryId: 'd', fork: true, now: 1 }, loadManifest('.drone.yml', 'kind: pipeline\ntype: docker\nname: t\nsteps:\n- name: t\n  image: node:20\n  commands: [true]\n'), { stages: [], skipped: [], errors: [] });
    store.add({ ...build, id: 'acme/app#1' }, [], []);
    // executionConfig accepts TASK_ROLE_ARN and FORK_TASK_ROLE_ARN without the execution roles.
    const onlyTaskRoles = executionConfig({ [ENV.tableName]: 'builds', [ENV.jobsQueueUrl]: 'http://localhost/jobs', [ENV.subnetIds]: 'subnet-1', [ENV.taskRoleArn]: TASK_ROLE, [ENV.forkTaskRoleArn]: FORK_TASK_ROLE });
    expect(onlyTaskRoles.forkExecutionRoleArn).toBeUndefined();
    const fork = await isForkJob({ config: onlyTaskRoles, store }, { buildId: 'acme/app#1' });
    expect(fork).toBe(true);
    // As startStage uses it: the legacy job, marked so, starts with the fork task role.
    const { fork: _mark, ...legacy } = jobsOf(true)[0]!;
    const tokens = runTaskTokens(legacy.stageKey, 1);
    expect(runTaskInput(onlyTaskRoles, { ...legacy, fork }, 'arn:td', 'FARGATE', tokens).overrides?.taskRoleArn).toBe(FORK_TASK_ROLE);
  });

  it("the autoscaler's RunTask of a fork's stage overrides the execution and task roles with the fork roles; a trusted stage's names none", () => {
    const tokens = runTaskTokens('acme/app#1/1', 0);
    const [fork] = jobsOf(true);
    const [own] = jobsOf(false);
    for (const capacity of ['FARGATE', 'FARGATE_SPOT'] as const) {
      expect(runTaskInput(config, fork!, 'arn:td', capacity, tokens).overrides).toMatchObject({ executionRoleArn: FORK_ROLE, taskRoleArn: FORK_TASK_ROLE });
      expect(runTaskInput(config, own!, 'arn:td', capacity, tokens).overrides).not.toHaveProperty('executionRoleArn');
      expect(runTaskInput(config, own!, 'arn:td', capacity, tokens).overrides).not.toHaveProperty('taskRoleArn');
    }
    // Whatever task role the stored job's overrides name (a job compiled with a repository's build role).
    const withRole = { ...fork!, runTask: { ...fork!.runTask, overrides: { ...(fork!.runTask.overrides as object), taskRoleArn: TASK_ROLE } } };
    expect(runTaskInput(config, withRole, 'arn:td', 'FARGATE', tokens).overrides?.taskRoleArn).toBe(FORK_TASK_ROLE);
    // The service task of a split pipeline starts through the same function, with the same job.
    expect(runTaskInput(serviceTaskConfig(config), fork!, 'arn:td', 'FARGATE', tokens).overrides).toMatchObject({ executionRoleArn: FORK_ROLE, taskRoleArn: FORK_TASK_ROLE });
    // A later segment of a split stage starts from the stored job's segment (segmentJob), as a
    // fork's: the segment's own overrides get both roles too.
    const split = { ...fork!, segments: [1, 2].map((number) => ({ number, taskDefinition: fork!.taskDefinition, runTask: fork!.runTask, cpu: fork!.cpu, memory: fork!.memory, containers: [], later: { runOnFailure: false, runAlways: false } })) };
    expect(segmentJob(split, 2)).toMatchObject({ fork: true, segment: 2 });
    expect(runTaskInput(config, segmentJob(split, 2), 'arn:td', 'FARGATE', tokens).overrides).toMatchObject({ executionRoleArn: FORK_ROLE, taskRoleArn: FORK_TASK_ROLE });
    // On EC2 capacity (never a fork's, core/pipeline/capacity.ts ec2Refusal) the overrides would keep them as well.
    expect(runTaskInput(config, fork!, 'arn:td', 'EC2', tokens).overrides).toMatchObject({ executionRoleArn: FORK_ROLE, taskRoleArn: FORK_TASK_ROLE });
    // The agent's overrides are still there beside it.
    expect(runTaskInput(config, fork!, 'arn:td', 'FARGATE', tokens).overrides?.containerOverrides?.map((o) => o.name)).toContain('slipway-agent');
  });

  it('the autoscaler reads the fork roles from its environment', () => {
    expect(config.forkExecutionRoleArn).toBe(FORK_ROLE);
    expect(config.forkTaskRoleArn).toBe(FORK_TASK_ROLE);
    expect(executionConfig({ [ENV.tableName]: 't', [ENV.jobsQueueUrl]: 'q' }).forkExecutionRoleArn).toBeUndefined();
  });

  it('refuses a trusted execution role without a fork role, where forks would run with the trusted one', () => {
    expect(() => executionConfig({ [ENV.tableName]: 't', [ENV.jobsQueueUrl]: 'q', [ENV.taskExecutionRoleArn]: EXECUTION_ROLE })).toThrow(
      new RegExp(`${ENV.taskExecutionRoleArn} is set but ${ENV.forkTaskExecutionRoleArn} is not: pull requests from forks would run with the trusted execution role`),
    );
  });

  it("refuses a build task role without a fork task role, where forks' containers would get the build task role's credentials", () => {
    expect(() => executionConfig({ [ENV.tableName]: 't', [ENV.jobsQueueUrl]: 'q', [ENV.taskExecutionRoleArn]: EXECUTION_ROLE, [ENV.forkTaskExecutionRoleArn]: FORK_ROLE, [ENV.taskRoleArn]: TASK_ROLE })).toThrow(
      new RegExp(`${ENV.taskRoleArn} is set but ${ENV.forkTaskRoleArn} is not: pull requests from forks would run with the build task role`),
    );
  });
});

describe("a fork's stage keeps room in RunTask's overrides for its roles", () => {
  it('a commit message cut to fit at compile time, the fullest upstream entry and the longest role ARNs still fit the 8192 characters RunTask allows', () => {
    const yaml = 'kind: pipeline\ntype: docker\nname: test\nsteps:\n- name: test\n  image: node:20\n  commands: [npm test]\n';
    const manifest = loadManifest('.drone.yml', yaml);
    const longest = `arn:${'p'.repeat(16)}:iam::123456789012:role/${'r'.repeat(64)}`;
    expect(longest).toHaveLength(MAX_FORK_ROLE_ARN_CHARS);
    const forkConfig = { ...config, forkExecutionRoleArn: longest, forkTaskRoleArn: longest };
    // Every failed stage name the upstream entry can show: it fills UPSTREAM_RESERVE.
    const upstream = { failedStages: Array.from({ length: 200 }, (_, i) => `stage-${i}`), buildStarted: 1_700_000_000_000 };
    expect(JSON.stringify(upstreamOverride(upstream)).length).toBeGreaterThan(UPSTREAM_RESERVE - 20);
    for (const fork of [true, false]) {
      const ctx = cliContext({ repo: 'acme/app', commit: 'a'.repeat(40), event: 'pull_request', action: 'opened', ...(fork ? { fork: true } : {}) });
      const long = { ...ctx, commit: { ...ctx.commit, message: 'x'.repeat(100_000) } };
      const options = buildCompileOptions(compileOptionsFromEnv(FIXTURE_ENV), { repoSlug: 'acme/app', buildNumber: ctx.build.number, fork });
      const [job] = newBuildRecords({ ctx: long, deliveryId: 'd-1', fork, now: 1 }, manifest, compileManifest(manifest, long, options)).jobs;
      const input = runTaskInput(forkConfig, job!, 'arn:td', 'FARGATE', runTaskTokens(job!.stageKey, 0), upstream);
      expect(input.overrides?.executionRoleArn).toBe(fork ? longest : undefined);
      expect(input.overrides?.taskRoleArn).toBe(fork ? longest : undefined);
      expect(JSON.stringify(input.overrides).length).toBeLessThanOrEqual(MAX_OVERRIDE_CHARS);
    }
  });
});

describe('the ECS stand-in and the execution role override', () => {
  const standIn = ecsForFile();

  it("records RunTask's execution role override as the task's, and describes it", async () => {
    const name = family('fork-role');
    await standIn.client.send(new RegisterTaskDefinitionCommand({ family: name, executionRoleArn: EXECUTION_ROLE, containerDefinitions: [sh('main', 'sleep 0.2', { essential: true, stopTimeout: 2 })] }));
    const run = (overrides: { executionRoleArn?: string }) => standIn.client.send(new RunTaskCommand({ taskDefinition: name, overrides }));
    const forked = (await run({ executionRoleArn: FORK_ROLE })).tasks![0]!;
    const trusted = (await run({})).tasks![0]!;
    expect(forked.overrides?.executionRoleArn).toBe(FORK_ROLE);
    const described = await standIn.client.send(new DescribeTasksCommand({ tasks: [forked.taskArn!, trusted.taskArn!] }));
    expect(described.tasks?.map((t) => t.overrides?.executionRoleArn)).toEqual([FORK_ROLE, undefined]);
  });

  it('refuses a role override that is not an IAM role ARN, as ECS does', async () => {
    const name = family('fork-role-bad');
    await standIn.client.send(new RegisterTaskDefinitionCommand({ family: name, containerDefinitions: [sh('main', 'true', { essential: true })] }));
    const error = await standIn.client.send(new RunTaskCommand({ taskDefinition: name, overrides: { executionRoleArn: 'slipway-fork-execution' } })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidParameterException);
    expect((error as Error).message).toMatch(/overrides\.executionRoleArn "slipway-fork-execution" is not an IAM role ARN/);
  });
});

describe("a pass starts a fork's stage whose stored job predates the mark with the fork role", () => {
  const standIn = ecsForFile({ namespaces: false });
  const cluster = 'fork-legacy';

  it("its build record says fork: RunTask carries the fork role; a trusted build's legacy job carries none", async () => {
    resetAutoscalerState();
    const store = new MemoryBuildStore();
    const stages = new MemoryStageStore(store);
    const deps: AutoscalerDeps = {
      store, stages, ecs: standIn.client,
      jobs: Object.assign(new MemoryJobQueue(), { sample: async () => [], remove: async () => [], postpone: async () => [], deadLetter: async () => ({}) }),
      config: {
        tableName: 'builds', jobsQueueUrl: 'jobs', cluster, subnets: ['subnet-local'], securityGroups: [], serviceSecurityGroups: [], assignPublicIp: 'DISABLED',
        useSpot: false, defaultCpu: 256, limits: DEFAULT_LIMITS, executionRoleArn: EXECUTION_ROLE, forkExecutionRoleArn: FORK_ROLE, taskRoleArn: TASK_ROLE, forkTaskRoleArn: FORK_TASK_ROLE,
      },
      postBuildStatus: async () => {}, nudge: async () => {}, now: Date.now, log: () => {},
    };
    const name = family('fork-legacy');
    const queuedAt = Date.now() - 120_000;
    for (const [id, fork] of [['octo/app#1', true], ['octo/app#2', false]] as const) {
      const build: Build = { id, repo: 'octo/app', number: Number(id.split('#')[1]), status: 'pending', event: 'pull_request', action: 'opened', ref: 'refs/pull/1/head', branch: 'main', commit: 'c0ffee', message: 'm', author: 'a', link: 'l', deliveryId: id, fork, createdAt: queuedAt };
      store.add(build, [{ buildId: id, repo: 'octo/app', buildNumber: build.number, number: 1, name: 'test', status: 'pending', dependsOn: [], attempts: 0, queuedAt }], []);
      // Stored as the planner wrote jobs before they carried `fork`.
      await stages.putStageJobs([{
        stageKey: `${id}/1`, buildId: id, stageNumber: 1, repo: 'octo/app', pipeline: 'test', cpu: 256, memory: 512, queuedAt, runTask: {},
        taskDefinition: { family: name, requiresCompatibilities: ['FARGATE'], networkMode: 'awsvpc', cpu: '256', memory: '512', containerDefinitions: [sh(AGENT_CONTAINER, 'sleep 0.2', { essential: true })] },
      }]);
    }
    const report = await runPass(deps, { reconcile: false });
    expect(report.started.map((s) => s.stageKey).sort()).toEqual(['octo/app#1/1', 'octo/app#2/1']);
    const arns = await Promise.all(['octo/app#1', 'octo/app#2'].map(async (id) => (await stages.getStageConsistent(id, 1))!.taskArn!));
    const described = await standIn.client.send(new DescribeTasksCommand({ cluster, tasks: arns }));
    expect(arns.map((arn) => described.tasks?.find((t) => t.taskArn === arn)?.overrides?.executionRoleArn)).toEqual([FORK_ROLE, undefined]);
    expect(arns.map((arn) => described.tasks?.find((t) => t.taskArn === arn)?.overrides?.taskRoleArn)).toEqual([FORK_TASK_ROLE, undefined]);
  });
});

// A fork's job queued before the upgrade that added the fork task role was compiled with room for
// the execution role only; its start now adds `taskRoleArn` too. RunTask allows 8192 characters of
// overrides, JSON formatting included (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html,
// `overrides`), and the ECS stand-in refuses more as ECS does: the autoscaler measures what it
// would send and ends the stage saying what to do, instead of a RunTask refused at every try.
describe("a fork's stage queued before its start added the fork task role", () => {
  const standIn = ecsForFile({ namespaces: false });
  const cluster = 'fork-overrides';
  /** What the compiler kept for a fork before the task role: the execution role's member only. */
  const OLD_FORK_RESERVE = JSON.stringify({ executionRoleArn: 'x'.repeat(MAX_FORK_ROLE_ARN_CHARS) }).length - 2 + 1;
  /** The fullest SLIPWAY_UPSTREAM the compiler keeps UPSTREAM_RESERVE for. */
  const upstream = { failedStages: Array.from({ length: 200 }, (_, i) => `stage-${i}`), buildStarted: 1_700_000_000_000 };

  /** The overrides of `stageKey` as that compiler left them: as full as its budget allowed. */
  function oldOverrides(stageKey: string): { containerOverrides: { name: string; environment: { name: string; value: string }[] }[] } {
    const target = MAX_OVERRIDE_CHARS - UPSTREAM_RESERVE - OLD_FORK_RESERVE;
    const shell = (value: string) => ({ containerOverrides: [{ name: AGENT_CONTAINER, environment: [{ name: AGENT_ENV.build, value }, { name: AGENT_ENV.stageId, value: stageKey }] }] });
    const overrides = shell('x'.repeat(target - JSON.stringify(shell('')).length));
    expect(JSON.stringify(overrides)).toHaveLength(target);
    return overrides;
  }

  function depsOf(store: MemoryBuildStore, stages: MemoryStageStore, logs: string[]): AutoscalerDeps {
    return {
      store, stages, ecs: standIn.client,
      jobs: Object.assign(new MemoryJobQueue(), { sample: async () => [], remove: async () => [], postpone: async () => [], deadLetter: async () => ({}) }),
      config: {
        tableName: 'builds', jobsQueueUrl: 'jobs', cluster, subnets: ['subnet-local'], securityGroups: [], serviceSecurityGroups: [], assignPublicIp: 'DISABLED',
        useSpot: false, defaultCpu: 256, limits: DEFAULT_LIMITS, executionRoleArn: EXECUTION_ROLE, forkExecutionRoleArn: FORK_ROLE, taskRoleArn: TASK_ROLE, forkTaskRoleArn: FORK_TASK_ROLE,
      },
      postBuildStatus: async () => {}, nudge: async () => {}, now: Date.now, log: (message) => void logs.push(message),
    };
  }

  it("ends the fork's stage at once with what to do, sends ECS nothing, and starts a trusted stage of the same size", async () => {
    resetAutoscalerState();
    const store = new MemoryBuildStore();
    const stages = new MemoryStageStore(store);
    const logs: string[] = [];
    const deps = depsOf(store, stages, logs);
    const name = family('fork-overrides');
    const queuedAt = Date.now() - 120_000;
    for (const [id, fork] of [['octo/big#1', true], ['octo/big#2', false]] as const) {
      const build: Build = { id, repo: 'octo/big', number: Number(id.split('#')[1]), status: 'pending', event: 'pull_request', action: 'opened', ref: 'refs/pull/1/head', branch: 'main', commit: 'c0ffee', message: 'm', author: 'a', link: 'l', deliveryId: id, fork, createdAt: queuedAt };
      store.add(build, [{ buildId: id, repo: 'octo/big', buildNumber: build.number, number: 1, name: 'test', status: 'pending', dependsOn: [], attempts: 0, queuedAt, upstream }], []);
      await stages.putStageJobs([{
        stageKey: `${id}/1`, buildId: id, stageNumber: 1, repo: 'octo/big', pipeline: 'test', cpu: 256, memory: 512, queuedAt, fork, runTask: { overrides: oldOverrides(`${id}/1`) },
        taskDefinition: { family: name, requiresCompatibilities: ['FARGATE'], networkMode: 'awsvpc', cpu: '256', memory: '512', containerDefinitions: [sh(AGENT_CONTAINER, 'sleep 0.2', { essential: true })] },
      }]);
    }
    const before = standIn.ecs.tasks().length;
    const report = await runPass(deps, { reconcile: false });

    expect(report.started.map((s) => s.stageKey)).toEqual(['octo/big#2/1']);
    expect(report.runTaskFailures).toEqual([]);
    const forkStage = (await stages.getStageConsistent('octo/big#1', 1))!;
    expect(forkStage).toMatchObject({ status: 'error', reason: 'could-not-start' });
    expect(forkStage.message).toMatch(/^cannot start: its RunTask overrides would be \d+ characters, over the 8192 RunTask accepts/);
    expect(forkStage.message).toContain('taskRoleArn (');
    expect(forkStage.message).toContain('restart the build or push again, so that it is compiled with room for it');
    expect(report.failed).toEqual([{ stageKey: 'octo/big#1/1', message: forkStage.message }]);
    // Only the trusted stage's task reached ECS.
    expect(standIn.ecs.tasks().slice(before).map((t) => t.taskArn)).toEqual([(await stages.getStageConsistent('octo/big#2', 1))!.taskArn]);

    // What the check kept from ECS is what the stand-in (as ECS) refuses: the same input, sent.
    const legacy = { stageKey: 'octo/big#1/1', buildId: 'octo/big#1', stageNumber: 1, repo: 'octo/big', pipeline: 'test', cpu: 256, memory: 512, queuedAt, fork: true, runTask: { overrides: oldOverrides('octo/big#1/1') }, taskDefinition: { family: name, containerDefinitions: [] } } as unknown as StageJob;
    const input = runTaskInput({ ...deps.config, cluster }, legacy, name, 'FARGATE', runTaskTokens('octo/big#1/1', 9), upstream);
    expect(JSON.stringify(input.overrides).length).toBeGreaterThan(MAX_OVERRIDE_CHARS);
    await expect(standIn.client.send(new RunTaskCommand(input))).rejects.toThrow(/8192/);
  });

  it('lets every stage whose overrides fit through the check, and names each addition of one that does not', () => {
    const compiled = oldOverrides('acme/app#1/1');
    const tokens = runTaskTokens('acme/app#1/1', 0);
    const job = { stageKey: 'acme/app#1/1', fork: true, runTask: { overrides: compiled } } as unknown as StageJob;
    // Without the upstream entry, or without the task role, the old reserve holds.
    expect(startOverridesError(compiled, runTaskInput(config, job, 'arn:td', 'FARGATE', tokens).overrides)).toBeUndefined();
    expect(startOverridesError(compiled, runTaskInput({ ...config, forkTaskRoleArn: undefined }, job, 'arn:td', 'FARGATE', tokens, upstream).overrides)).toBeUndefined();
    const message = startOverridesError(compiled, runTaskInput(config, job, 'arn:td', 'FARGATE', tokens, upstream).overrides);
    expect(message).toContain(`the stage was compiled to ${JSON.stringify(compiled).length}, and its start adds executionRoleArn (`);
    expect(message).toMatch(/taskRoleArn \(\d+ characters\), slipway-agent's SLIPWAY_UPSTREAM \(\d+ characters\)\./);
  });
});
