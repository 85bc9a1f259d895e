// A fork's pull request runs with the fork execution role (lib/build-cluster.ts forkExecutionRole,
// refused the pull-through cache rules that fetch with the deployment's credentials): the planner
// marks the stage's job, the autoscaler puts the role in RunTask's overrides
// (TaskOverride.executionRoleArn, https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_TaskOverride.html),
// and the ECS stand-in records it as the task's execution role.
import { DescribeTasksCommand, InvalidParameterException, RegisterTaskDefinitionCommand, RunTaskCommand } from '@aws-sdk/client-ecs';
import { describe, expect, it } from 'vitest';
import { cliContext } from '../../cli/commands/compile.js';
import { newBuildRecords } from '../../core/builds/new-build.js';
import { ENV } from '../../core/config/lambda-env.js';
import { compileManifest } from '../../core/pipeline/compile.js';
import { loadManifest } from '../../core/pipeline/load.js';
import { runTaskTokens, type StageJob } from '../../core/scaling/job.js';
import { executionConfig } from '../../lambdas/autoscaler/config.js';
import { serviceTaskConfig } from '../../lambdas/autoscaler/service-task.js';
import { runTaskInput } from '../../lambdas/autoscaler/start-stage.js';
import { buildCompileOptions, compileOptionsFromEnv } from '../../lambdas/planner/compile-options.js';
import { FIXTURE_ENV } from '../compiler/support.js';
import { ecsForFile, family, sh } from '../local/helpers.js';

const EXECUTION_ROLE = 'arn:aws:iam::123456789012:role/slipway-execution';
const FORK_ROLE = 'arn:aws:iam::123456789012:role/slipway-fork-execution';
const config = executionConfig({
  [ENV.tableName]: 'builds',
  [ENV.jobsQueueUrl]: 'http://localhost/jobs',
  [ENV.subnetIds]: 'subnet-1',
  [ENV.taskExecutionRoleArn]: EXECUTION_ROLE,
  [ENV.forkTaskExecutionRoleArn]: FORK_ROLE,
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
  it("the planner marks a fork's stage job, and only a fork's", () => {
    expect(jobsOf(true).map((j) => j.fork)).toEqual([true]);
    expect(jobsOf(false).map((j) => j.fork)).toEqual([undefined]);
  });

  it("the autoscaler's RunTask of a fork's stage overrides the execution role with the fork role; a trusted stage's names none", () => {
    const tokens = runTaskTokens('acme/app#1/1', 0);
    const [fork] = jobsOf(true);
    const [own] = jobsOf(false);
    for (const capacity of ['FARGATE', 'FARGATE_SPOT'] as const) {
      expect(runTaskInput(config, fork!, 'arn:td', capacity, tokens).overrides?.executionRoleArn).toBe(FORK_ROLE);
      expect(runTaskInput(config, own!, 'arn:td', capacity, tokens).overrides).not.toHaveProperty('executionRoleArn');
    }
    // The service task of a split pipeline starts through the same function, with the same job.
    expect(runTaskInput(serviceTaskConfig(config), fork!, 'arn:td', 'FARGATE', tokens).overrides?.executionRoleArn).toBe(FORK_ROLE);
    // The agent's overrides are still there beside it.
    expect(runTaskInput(config, fork!, 'arn:td', 'FARGATE', tokens).overrides?.containerOverrides?.map((o) => o.name)).toContain('slipway-agent');
  });

  it('the autoscaler reads the fork role from its environment', () => {
    expect(config.forkExecutionRoleArn).toBe(FORK_ROLE);
    expect(executionConfig({ [ENV.tableName]: 't', [ENV.jobsQueueUrl]: 'q' }).forkExecutionRoleArn).toBeUndefined();
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
