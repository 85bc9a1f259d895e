import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileManifest } from '../../core/pipeline/compile.js';
import type { BuildContext } from '../../core/pipeline/context.js';
import { loadManifest } from '../../core/pipeline/load.js';
import { LOG_STREAM_PREFIX, logStreamName } from '../../core/pipeline/log-configuration.js';
import { stepLogTask } from '../../core/builds/types.js';

const ctx: BuildContext = {
  repo: { slug: 'acme/app', owner: 'acme', name: 'app', scm: 'github', httpUrl: 'https://git.example/acme/app.git', link: 'https://git.example/acme/app', defaultBranch: 'main', private: false, visibility: 'public' },
  commit: { sha: 'a'.repeat(40), ref: 'refs/heads/main', branch: 'main', message: 'm', link: '', author: { login: 'o', name: 'o', email: '', avatar: '' } },
  build: { number: 1, event: 'push', action: '', created: 0, link: '', trigger: '@hook' },
  system: { host: 'localhost', proto: 'http', version: '0' },
};

describe('log stream names', () => {
  it('use the awslogs stream prefix the compiler gives every container', () => {
    const manifest = loadManifest('.drone.yml', readFileSync(new URL('../../examples/postgres/.drone.yml', import.meta.url), 'utf8'));
    const { stages } = compileManifest(manifest, ctx, { logGroup: '/slipway/builds', region: 'us-east-1' });
    const containers = stages[0]!.taskDefinition.containerDefinitions ?? [];
    expect(containers.length).toBeGreaterThan(2);
    for (const c of containers) expect(c.logConfiguration?.options?.['awslogs-stream-prefix']).toBe(LOG_STREAM_PREFIX);
  });

  it('are <prefix>/<container>/<task id>, as awslogs names them', () => {
    expect(logStreamName('migrate', 'arn:aws:ecs:eu-west-1:123456789012:task/slipway/0f1e2d3c')).toBe('slipway/migrate/0f1e2d3c');
  });
});

describe("the task whose stream holds a step's log (stepLogTask: the API, `slipway run`, its phases)", () => {
  const seg1 = 'arn:aws:ecs:eu-west-1:123456789012:task/slipway/seg1';
  const seg2 = 'arn:aws:ecs:eu-west-1:123456789012:task/slipway/seg2';
  const svc = 'arn:aws:ecs:eu-west-1:123456789012:task/slipway/svc';
  const step = { kind: 'step' as const, detached: false };
  it.each([
    ['the task its record names (a step of segment 1 while segment 2 runs)', { taskArn: seg2, serviceTaskArn: svc }, { ...step, taskArn: seg1 }, seg1],
    ['a record without one: its stage task', { taskArn: seg2 }, step, seg2],
    ["a service's record without one, in a split stage: the service task", { taskArn: seg2, serviceTaskArn: svc }, { kind: 'service' as const, detached: false }, svc],
    ["a detached step's record without one, in a split stage: the service task", { taskArn: seg2, serviceTaskArn: svc }, { ...step, detached: true }, svc],
    ['nothing ran yet', {}, step, undefined],
  ])('%s', (_what, stage, record, expected) => {
    expect(stepLogTask(stage, record)).toBe(expected);
  });
});
