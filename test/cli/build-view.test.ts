// `slipway build N` as text: a pipeline with errors of its own shows them under its row, one
// FILE:LINE:COLUMN per line, so that none is cut or run into the next (issue 15).
import { describe, expect, it } from 'vitest';
import { formatBuild } from '../../cli/commands/build.js';
import type { BuildDetail } from '../../core/builds/types.js';

const base = { buildId: 'acme/app#3', repo: 'acme/app', buildNumber: 3, attempts: 0, dependsOn: [] };

const build: BuildDetail = {
  id: 'acme/app#3', repo: 'acme/app', number: 3, status: 'running', event: 'push', action: '', ref: 'refs/heads/main', branch: 'main',
  commit: 'a'.repeat(40), message: 'change', author: 'octocat', link: '', deliveryId: 'd', fork: false, createdAt: 0,
  stages: [
    {
      ...base, number: 1, name: 'image', status: 'error', reason: 'invalid-config', finishedAt: 0, steps: [],
      message: '.drone.yml:7:17: error: steps[0].privileged: Fargate cannot run privileged containers\n.drone.yml:12:3: error: steps[1]: missing "image" in step "b"',
    },
    { ...base, number: 2, name: 'test', status: 'running', steps: [] },
  ],
};

describe('slipway build: an errored pipeline', () => {
  it('lists its errors beneath its row, each on its own line', () => {
    const lines = formatBuild(build, 0).split('\n');
    const row = lines.findIndex((l) => /^1\s+image\s+error\b/.test(l));
    expect(lines[row]).toMatch(/invalid pipeline:$/);
    expect(lines.slice(row + 1, row + 3)).toEqual([
      '    .drone.yml:7:17: error: steps[0].privileged: Fargate cannot run privileged containers',
      '    .drone.yml:12:3: error: steps[1]: missing "image" in step "b"',
    ]);
    expect(lines[row + 3]).toMatch(/^2\s+test\s+running/);
  });
});
