// What the build had done when a dependent stage is released reaches its agent: recorded on
// the stage by the stage-end logic, passed by the autoscaler as SLIPWAY_UPSTREAM within the
// room the compiler kept in RunTask's overrides (drone/runner-go environ/environ.go gives
// each step DRONE_FAILED_STAGES and DRONE_BUILD_STARTED).
import { describe, expect, it } from 'vitest';
import { AGENT_CONTAINER, AGENT_ENV } from '../../core/pipeline/contract.js';
import { UPSTREAM_RESERVE, upstreamOverride } from '../../core/pipeline/override-budget.js';
import type { StageJob } from '../../core/scaling/job.js';
import { runTaskInput } from '../../lambdas/autoscaler/start-stage.js';
import type { ExecutionConfig } from '../../lambdas/autoscaler/config.js';
import { upstreamOf } from '../../lambdas/shared/execution/stage-end.js';

describe('upstreamOf', () => {
  it('names the failed, errored and killed stages, and the build start in seconds', () => {
    const stages = [
      { name: 'a', status: 'failure' as const },
      { name: 'b', status: 'success' as const },
      { name: 'c', status: 'error' as const },
      { name: 'd', status: 'skipped' as const },
      { name: 'e', status: 'killed' as const },
    ];
    expect(upstreamOf({ startedAt: 1_700_000_000_999 }, stages)).toEqual({ failedStages: ['a', 'c', 'e'], buildStarted: 1_700_000_000 });
    expect(upstreamOf({}, [])).toEqual({ failedStages: [] });
  });
});

describe('upstreamOverride', () => {
  it('fits the reserve: names that do not fit are left out and counted', () => {
    const names = Array.from({ length: 60 }, (_, i) => `pipeline-with-a-long-name-${i}`);
    const entry = upstreamOverride({ failedStages: names, buildStarted: 1_700_000_000 });
    expect(JSON.stringify(entry).length).toBeLessThanOrEqual(UPSTREAM_RESERVE);
    const value = JSON.parse(entry.value) as { failedStages: string[]; buildStarted: number };
    expect(value.buildStarted).toBe(1_700_000_000);
    const shown = value.failedStages.slice(0, -1);
    expect(names.slice(0, shown.length)).toEqual(shown);
    expect(value.failedStages.at(-1)).toBe(`(and ${names.length - shown.length} more)`);
  });
});

describe('runTaskInput', () => {
  const config = { cluster: 'c', subnets: ['s'], securityGroups: [], assignPublicIp: 'ENABLED' } as unknown as ExecutionConfig;
  const job = {
    stageKey: 'o/r#1/2',
    runTask: { overrides: { containerOverrides: [{ name: AGENT_CONTAINER, environment: [{ name: AGENT_ENV.build, value: '{}' }] }] } },
  } as unknown as StageJob;
  const agentEnv = (upstream?: Parameters<typeof runTaskInput>[5]) =>
    runTaskInput(config, job, 'arn:td', 'FARGATE', { clientToken: 't', startedBy: 's' }, upstream).overrides!.containerOverrides!.find((o) => o.name === AGENT_CONTAINER)!.environment!;

  it("passes the stage's upstream state to the agent as SLIPWAY_UPSTREAM", () => {
    const env = agentEnv({ failedStages: ['lint'], buildStarted: 1_700_000_000 });
    expect(env.find((e) => e.name === AGENT_ENV.upstream)).toEqual({ name: 'SLIPWAY_UPSTREAM', value: '{"failedStages":["lint"],"buildStarted":1700000000}' });
    expect(env.find((e) => e.name === AGENT_ENV.stageId)?.value).toBe('o/r#1/2');
    expect(agentEnv().some((e) => e.name === AGENT_ENV.upstream)).toBe(false);
  });
});
