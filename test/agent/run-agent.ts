// Spawns the real agent (`node --import tsx task-runner/main.ts`) with a plan, a build
// context and test directories, and collects what it prints. A hard kill after
// `killAfterMs` makes a hang a failed test, never a stuck one.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterEach } from 'vitest';

import type { AgentPlan, AgentResult, StepReport } from '../../core/pipeline/contract.js';
import type { BuildContext } from '../../core/pipeline/context.js';
import { parseReportLines } from '../../task-runner/report.js';
import { helloWorldContext } from '../support/build-context.js';
import { HANG_GUARD_MS } from '../support/wait.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface AgentRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  steps: StepReport[];
  result?: AgentResult;
  elapsedMs: number;
}

export function tempDirs(): { stateDir: string; workspace: string; root: string } {
  const root = mkdtempSync(join(tmpdir(), 'slipway-agent-test-'));
  return { root, stateDir: join(root, 'state'), workspace: join(root, 'src') };
}

/**
 * For a test file: a function that makes a fresh set of agent directories, each removed after
 * the test that made it.
 */
export function tempDirsPerTest(): () => ReturnType<typeof tempDirs> {
  const roots: string[] = [];
  afterEach(() => {
    for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
  });
  return () => {
    const d = tempDirs();
    roots.push(d.root);
    return d;
  };
}

export function context(overrides: Partial<BuildContext> = {}): BuildContext {
  return helloWorldContext({
    repo: { slug: 'octo/app', owner: 'octo', name: 'app', httpUrl: 'https://git.invalid/octo/app.git', link: 'https://git.invalid/octo/app' },
    commit: { sha: '0'.repeat(40), message: 'test', author: { login: 'octo', name: 'Octo', email: 'octo@example.com' } },
    build: { number: 7 },
    ...overrides,
  });
}

export function plan(overrides: Partial<AgentPlan> = {}): AgentPlan {
  return {
    version: 1,
    pipeline: 'default',
    workspace: '/drone/src',
    timeoutMinutes: 5,
    clone: { disable: true, tags: false, skipVerify: false, submodules: false, retries: 0 },
    services: [],
    steps: [],
    ...overrides,
  };
}

export interface StartOptions {
  plan: AgentPlan;
  ctx?: BuildContext;
  stateDir: string;
  workspace: string;
  metadataUri?: string;
  env?: NodeJS.ProcessEnv;
  killAfterMs?: number;
}

export function startAgent(options: StartOptions): { child: ChildProcess; done: Promise<AgentRun>; output(): string } {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'],
    SLIPWAY_PLAN: JSON.stringify(options.plan),
    SLIPWAY_BUILD: JSON.stringify(options.ctx ?? context()),
    SLIPWAY_STAGE_ID: 'octo/app#7/1',
    SLIPWAY_STATE_DIR: options.stateDir,
    SLIPWAY_WORKSPACE_DIR: options.workspace,
    SLIPWAY_POLL_MS: '50',
    ...(options.metadataUri ? { ECS_CONTAINER_METADATA_URI_V4: options.metadataUri } : {}),
    ...options.env,
  };
  const started = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', 'task-runner/main.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), options.killAfterMs ?? HANG_GUARD_MS);
  const done = new Promise<AgentRun>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr, ...parseReportLines(stdout), elapsedMs: Date.now() - started });
    });
  });
  return { child, done, output: () => stdout };
}

export function byName(steps: StepReport[]): Record<string, StepReport> {
  return Object.fromEntries(steps.map((s) => [s.name, s]));
}
