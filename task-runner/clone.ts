// Clones the build's commit into the workspace with the real git, following clonePlan.
// Credentials come from a private netrc (credentials.ts); every line git prints is
// scrubbed of them before it reaches the log.

import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';

import type { BuildContext } from '../core/pipeline/context.js';
import type { CloneSettings } from '../core/pipeline/types.js';
import { AGENT_LINE } from '../core/pipeline/contract.js';
import { withRetry } from '../core/util/retry.js';
import { GIT_RETRY_BACKOFF } from './backoff.js';
import { CloneError } from './clone-error.js';
import { clonePlan, isLocalRemote, redactUrl } from './clone-plan.js';
import { NETRC_ENV, createGitHome, scrub } from './credentials.js';

export interface CloneOptions {
  ctx: BuildContext;
  clone: CloneSettings;
  workspace: string;
  env: NodeJS.ProcessEnv;
  log: (line: string) => void;
  signal: AbortSignal;
}

export { CloneError };

interface GitRun {
  code: number | null;
  output: string[];
}

export async function cloneRepository(options: CloneOptions): Promise<void> {
  const { ctx, clone, workspace, log, signal } = options;
  const url = ctx.repo.httpUrl;
  const shownUrl = redactUrl(url);
  const plan = clonePlan(ctx, clone);
  const home = await createGitHome(options.env);
  const secrets = [...home.secrets, ...credentialsInUrl(url)];

  // git's children get a private HOME and no credential variables: the netrc is the only channel.
  const gitEnv: NodeJS.ProcessEnv = { ...options.env, HOME: home.dir, GIT_TERMINAL_PROMPT: '0' };
  for (const name of Object.values(NETRC_ENV)) delete gitEnv[name];
  delete gitEnv['XDG_CONFIG_HOME'];

  const git = (args: string[]): Promise<GitRun> => runGit(args, workspace, gitEnv, signal, secrets, log);
  const must = async (args: string[], what: string, retries = 0): Promise<void> => {
    const failed = (run: GitRun): CloneError => {
      const tail = run.output.slice(-3).join(' | ');
      return new CloneError(`clone: ${what} failed (git exit code ${run.code})${tail ? `: ${tail}` : ''}`, run.code ?? undefined);
    };
    await withRetry(
      async () => {
        const run = await git(args);
        if (run.code === 0) return;
        if (signal.aborted) throw new CloneError(`clone: stopped during ${what}`);
        throw failed(run);
      },
      {
        attempts: retries + 1,
        baseMs: GIT_RETRY_BACKOFF.initialMs,
        maxMs: GIT_RETRY_BACKOFF.maxMs,
        jitter: false,
        retryable: (err) => !signal.aborted && err instanceof CloneError,
        onRetry: (_err, _info, attempt, delay) => log(`clone: ${what} failed, retrying in ${delay / 1000} s (${attempt}/${retries})`),
        signal,
      },
    ).catch((err: unknown) => {
      // Stopped during a back-off: say so rather than the last git failure.
      throw signal.aborted ? new CloneError(`clone: stopped during ${what}`) : err;
    });
  };

  try {
    await mkdir(workspace, { recursive: true });
    log(`clone: ${shownUrl} ${plan.refspec ? plan.refspec.slice(1).split(':')[0] : ''} at ${plan.sha} into ${workspace}`);
    await must(['-c', 'init.defaultBranch=main', 'init', '-q'], 'git init');
    await must(['remote', 'add', 'origin', url], 'git remote add');
    const sslOptions = clone.skipVerify ? ['-c', 'http.sslVerify=false'] : [];
    if (plan.refspec !== undefined) {
      await must([...sslOptions, 'fetch', '-q', ...plan.fetchOptions, 'origin', plan.refspec], `fetch of ${shownUrl}`, clone.retries);
    }
    if (!(await hasCommit(git, plan.sha))) {
      // The ref moved on since the event (a later push), or there was no ref: ask for the commit itself.
      const byCommit = await git([...sslOptions, 'fetch', '-q', ...plan.fetchOptions, 'origin', plan.sha]);
      if (byCommit.code !== 0 || !(await hasCommit(git, plan.sha))) {
        const where = plan.refspec ? plan.refspec.slice(1).split(':')[0] : 'the remote';
        throw new CloneError(`clone: commit ${plan.sha} not found in ${where} of ${shownUrl}`, byCommit.code !== 0 ? (byCommit.code ?? undefined) : undefined);
      }
    }
    await must(['-c', 'advice.detachedHead=false', 'checkout', '-q', '-f', ...plan.checkout], `checkout of ${plan.sha}`);
    if (plan.submodules !== undefined) {
      const fileTransport = isLocalRemote(url) ? ['-c', 'protocol.file.allow=always'] : [];
      await must([...sslOptions, ...fileTransport, ...plan.submodules], 'submodule update', clone.retries);
    }
    log(`${AGENT_LINE.cloned}${plan.sha}`);
  } finally {
    await home.dispose();
  }
}

async function hasCommit(git: (args: string[]) => Promise<GitRun>, sha: string): Promise<boolean> {
  const run = await git(['cat-file', '-e', `${sha}^{commit}`]);
  return run.code === 0;
}

function credentialsInUrl(url: string): string[] {
  const match = /^[a-z][a-z0-9+.-]*:\/\/([^/@\s]*)@/i.exec(url);
  if (!match?.[1]) return [];
  return match[1].split(':').filter((part) => part.length >= 3);
}

function runGit(
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  signal: AbortSignal,
  secrets: readonly string[],
  log: (line: string) => void,
): Promise<GitRun> {
  return new Promise((resolve) => {
    const output: string[] = [];
    const child = spawn('git', args, { cwd, env, signal, stdio: ['ignore', 'pipe', 'pipe'] });
    let pending = '';
    const onData = (chunk: Buffer): void => {
      pending += chunk.toString('utf8');
      const lines = pending.split(/\r?\n|\r/);
      pending = lines.pop() ?? '';
      for (const line of lines) emit(line);
    };
    const emit = (line: string): void => {
      if (line.trim() === '') return;
      const clean = scrub(line, secrets);
      output.push(clean);
      log(`git: ${clean}`);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (error) => {
      // ENOENT (no git) or an abort: reported as a failed run with the reason.
      if (error.name !== 'AbortError') emit(`could not run git: ${error.message}`);
      resolve({ code: null, output });
    });
    child.on('close', (code) => {
      if (pending !== '') emit(pending);
      resolve({ code, output });
    });
  });
}
