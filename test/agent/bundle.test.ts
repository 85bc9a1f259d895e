// The image runs the esbuild bundle, not the sources: it must build and run on plain node.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { bundleAgent } from '../../task-runner/build.js';
import { parseReportLines } from '../../task-runner/report.js';
import { ROOT, context, plan } from './run-agent.js';
import { HANG_GUARD_MS } from '../support/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'slipway-bundle-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('agent bundle', () => {
  it('builds into one module that prints its version and help, and runs a pipeline', async () => {
    const outfile = await bundleAgent(join(dir, 'agent.mjs'));
    const source = readFileSync(outfile, 'utf8');
    // Nothing left to resolve at run time but node's built-ins.
    expect(source).not.toMatch(/from\s+["'](?!node:)[^"']+["']/);

    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    expect(execFileSync(process.execPath, [outfile, '--version'], { encoding: 'utf8', cwd: dir }).trim()).toBe(version);
    expect(execFileSync(process.execPath, [outfile, '--help'], { encoding: 'utf8', cwd: dir })).toContain('SLIPWAY_TIMEOUT_SECONDS');

    const run = spawnSync(process.execPath, [outfile], {
      cwd: dir,
      encoding: 'utf8',
      timeout: HANG_GUARD_MS,
      env: {
        PATH: process.env['PATH'],
        SLIPWAY_PLAN: JSON.stringify(plan()),
        SLIPWAY_BUILD: JSON.stringify(context()),
        SLIPWAY_STATE_DIR: join(dir, 'state'),
        SLIPWAY_WORKSPACE_DIR: join(dir, 'src'),
      },
    });
    expect(run.status).toBe(0);
    expect(parseReportLines(run.stdout).result).toMatchObject({ outcome: 'success', exitCode: 0 });
  });
});

describe('agent Dockerfile', () => {
  const dockerfile = readFileSync(join(ROOT, 'task-runner/Dockerfile'), 'utf8');
  const instructions = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'));

  it('copies only paths that exist, and runs the bundle it builds', () => {
    for (const line of instructions.filter((l) => l.startsWith('COPY ') && !l.includes('--from'))) {
      const sources = line.split(/\s+/).slice(1, -1);
      for (const source of sources) expect(existsSync(join(ROOT, source)), source).toBe(true);
    }
    const build = instructions.find((l) => l.includes('task-runner/build.ts'));
    expect(build).toContain('task-runner/build.ts /out/agent.mjs');
    expect(instructions).toContain('COPY --from=bundle /out/agent.mjs /opt/slipway/agent.mjs');
    expect(instructions.at(-1)).toBe('ENTRYPOINT ["/sbin/tini", "--", "node", "/opt/slipway/agent.mjs"]');
  });

  it('has no architecture-specific step, and bundles on the build platform', () => {
    expect(instructions.filter((l) => l.startsWith('RUN ')).join('\n')).not.toMatch(/amd64|arm64|x86_64|aarch64|x64/);
    expect(instructions.filter((l) => l.startsWith('FROM '))).toEqual([
      'FROM --platform=$BUILDPLATFORM node:20-alpine AS bundle',
      'FROM node:20-alpine3.22 AS node',
      'FROM alpine:3.22',
    ]);
  });

  it('runs on Alpine with only the node binary of node:20-alpine, of the same Alpine release, and proves it at build time', () => {
    // The musl node binary links libstdc++ (node:20-alpine installs it the same way); npm,
    // corepack, yarn and the C headers stay behind (npm run bench -- image-bytes).
    const from = instructions.filter((l) => l.startsWith('FROM '));
    const alpine = /alpine(3\.\d+)$/.exec(from[1]!.replace(' AS node', ''))?.[1];
    expect(from[2]).toBe(`FROM alpine:${alpine}`);
    const runtime = instructions.slice(instructions.indexOf(from[2]!));
    expect(runtime.find((l) => l.startsWith('RUN apk add'))).toMatch(/\slibstdc\+\+\s/);
    expect(runtime.filter((l) => l.startsWith('COPY --from=node'))).toEqual(['COPY --from=node /usr/local/bin/node /usr/local/bin/node']);
    expect(runtime).toContain('RUN node /opt/slipway/agent.mjs --version');
  });
});
