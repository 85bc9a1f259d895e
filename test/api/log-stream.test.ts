import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileManifest } from '../../core/pipeline/compile.js';
import type { BuildContext } from '../../core/pipeline/context.js';
import { loadManifest } from '../../core/pipeline/load.js';
import { LOG_STREAM_PREFIX, logStreamName } from '../../core/pipeline/log-configuration.js';

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
