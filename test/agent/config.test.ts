import { describe, expect, it } from 'vitest';

import { readConfig } from '../../task-runner/config.js';
import { envFileContent, stageEnvInput, stageNumber } from '../../task-runner/env-file.js';
import { context, plan } from './run-agent.js';

const base = { SLIPWAY_PLAN: JSON.stringify(plan()), SLIPWAY_BUILD: JSON.stringify(context()), SLIPWAY_STAGE_ID: 'octo/app#7/2' };

describe('readConfig', () => {
  it('uses the contract paths and the plan by default', () => {
    const config = readConfig(base);
    expect(config.paths).toEqual({ stateDir: '/slipway', ready: '/slipway/agent/ready', env: '/slipway/agent/env', status: '/slipway/agent/status', setup: '/slipway/agent/setup.exit', steps: '/slipway/steps', agent: '/slipway/agent', servicesHost: '/slipway/agent/services-host' });
    expect(config.workspace).toBe('/drone/src');
    expect(config.timeoutMs).toBe(5 * 60_000);
    expect(config.timeoutLabel).toBe('5 minutes');
    expect(config.pollMs).toBe(1000);
    expect(config.metadataUri).toBeUndefined();
  });

  it('honours the overrides for local runs and tests', () => {
    const config = readConfig({
      ...base,
      SLIPWAY_STATE_DIR: '/tmp/s',
      SLIPWAY_WORKSPACE_DIR: '/tmp/w',
      SLIPWAY_TIMEOUT_SECONDS: '90',
      SLIPWAY_POLL_MS: '20',
      ECS_CONTAINER_METADATA_URI_V4: 'http://169.254.170.2/v4/abc',
    });
    expect(config.paths.ready).toBe('/tmp/s/agent/ready');
    expect(config.workspace).toBe('/tmp/w');
    expect(config.timeoutMs).toBe(90_000);
    expect(config.timeoutLabel).toBe('90 seconds');
    expect(readConfig({ ...base, SLIPWAY_TIMEOUT_SECONDS: '60' }).timeoutLabel).toBe('1 minute');
    expect(config.metadataUri).toBe('http://169.254.170.2/v4/abc');
  });

  it.each([
    [{ SLIPWAY_PLAN: undefined }, 'agent: SLIPWAY_PLAN is not set (expected JSON)'],
    [{ SLIPWAY_PLAN: '{' }, 'agent: SLIPWAY_PLAN is not valid JSON'],
    [{ SLIPWAY_PLAN: JSON.stringify({ ...plan(), steps: [{ container: 'a' }] }) }, 'agent: SLIPWAY_PLAN.steps[0]: expected'],
    [{ SLIPWAY_BUILD: '{}' }, 'agent: SLIPWAY_BUILD: expected a BuildContext'],
    [{ SLIPWAY_TIMEOUT_SECONDS: 'soon' }, 'agent: SLIPWAY_TIMEOUT_SECONDS: expected a positive number, got "soon"'],
    [
      { SLIPWAY_PLAN: JSON.stringify({ ...plan(), steps: [{ container: 'a', steps: ['a'], dependsOn: ['b'], dependsOnConditions: { b: 'DONE' } }] }) },
      'agent: SLIPWAY_PLAN.steps[0].dependsOnConditions: expected { container: START | COMPLETE | SUCCESS | HEALTHY }, got "DONE" for "b"',
    ],
    [{ SLIPWAY_PLAN: JSON.stringify({ ...plan(), stage: { number: 0, dependsOn: [] } }) }, 'agent: SLIPWAY_PLAN.stage: expected { number: a positive integer'],
  ])('rejects %j', (overrides, message) => {
    expect(() => readConfig({ ...base, ...overrides })).toThrow(message);
  });
});

describe('env file', () => {
  it('takes the stage number from the stage id and the platform from the agent', () => {
    expect(stageNumber('octo/app#7/2')).toBe(2);
    expect(stageNumber('')).toBe(1);
    expect(stageEnvInput(plan({ pipeline: 'backend' }), 'octo/app#7/3', 'x64')).toMatchObject({ name: 'backend', number: 3, arch: 'amd64' });
  });

  it("takes the stage's number and depends_on from the plan when it has them", () => {
    const withStage = plan({ pipeline: 'deploy', stage: { number: 3, dependsOn: ['backend', 'frontend'] } });
    // A stage id that does not end in the number: the plan decides.
    const content = envFileContent(withStage, context(), 'octo-app-7-deploy-stage');
    expect(content).toContain("export DRONE_STAGE_NUMBER='3'\n");
    expect(content).toContain("export DRONE_STAGE_DEPENDS_ON='backend,frontend'\n");
    expect(readConfig({ ...base, SLIPWAY_PLAN: JSON.stringify(withStage) }).plan.stage).toEqual({ number: 3, dependsOn: ['backend', 'frontend'] });
    // Without it: the end of the stage id, and no depends_on.
    const legacy = envFileContent(plan({ pipeline: 'deploy' }), context(), 'octo/app#7/2');
    expect(legacy).toContain("export DRONE_STAGE_NUMBER='2'\n");
    expect(legacy).toContain("export DRONE_STAGE_DEPENDS_ON=''\n");
  });

  it("gives the steps Drone's DRONE_WORKSPACE_BASE and _PATH from the plan's workspace base (drone-runner-docker engine/compiler/workspace.go)", () => {
    const content = envFileContent(plan({ pipeline: 'go', workspace: '/go/src/github.com/acme/app', workspaceBase: '/go' }), context(), 'octo/app#7/1');
    expect(content).toContain("export DRONE_WORKSPACE='/go/src/github.com/acme/app'\n");
    expect(content).toContain("export DRONE_WORKSPACE_BASE='/go'\n");
    expect(content).toContain("export DRONE_WORKSPACE_PATH='src/github.com/acme/app'\n");
  });

  it('turns a NUL from the push (commit message, branch, author) into U+FFFD instead of failing the stage', () => {
    const ctx = context();
    ctx.commit = { ...ctx.commit, message: 'fix\u0000 me', branch: 'b\u0000x', author: { ...ctx.commit.author, name: 'a\u0000b' } };
    const content = envFileContent(plan({ pipeline: 'backend' }), ctx, 'octo/app#7/2');
    expect(content).not.toContain('\u0000');
    expect(content).toContain("export DRONE_COMMIT_MESSAGE='fix\uFFFD me'\n");
    expect(content).toContain("export DRONE_COMMIT_BRANCH='b\uFFFDx'\n");
    expect(content).toContain("export DRONE_COMMIT_AUTHOR_NAME='a\uFFFDb'\n");
  });

  it('holds the DRONE_* variables of the run as shell exports', () => {
    const content = envFileContent(plan({ pipeline: 'backend' }), context(), 'octo/app#7/2');
    expect(content).toContain("export DRONE_STAGE_NAME='backend'\n");
    expect(content).toContain("export DRONE_STAGE_NUMBER='2'\n");
    expect(content).toContain("export DRONE_COMMIT_SHA='0000000000000000000000000000000000000000'\n");
    expect(content).toContain("export SLIPWAY_STAGE_ID='octo/app#7/2'\n");
    expect(content).not.toContain('NETRC');
  });
});
