// A Git host for trying webhooks locally, made of what this machine has (git, node): bare
// repositories under one directory, a GitHub-shaped API over them, and a post-receive hook
// that sends GitHub's signed push webhook. With it, `git push` → webhook → planner (which
// reads .drone.yml through the API) → build → commit status runs on one machine, through
// the same code paths as with GitHub:
//
//   GET  /repos/{owner}/{name}                           the repository (what `slipway doctor` asks)
//   GET  /repos/{owner}/{name}/contents/{path}?ref=SHA   the file at the commit (`git show`), raw
//   POST /repos/{owner}/{name}/statuses/{sha}            a commit status: kept, and printed
//
// The planner's SCM credentials then say `{"github":{"apiUrl":"<this API>","webUrl":"file://<root>","token":"…"}}`:
// the agent clones `file://<root>/<owner>/<name>.git` (local mode mounts that directory
// read-only into the build's agent). Not GitHub: no pull requests, no tags' extra events, no
// auth (the API answers on loopback only), one hook per repository.

import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export interface GitHostStatus {
  repo: string;
  sha: string;
  state: string;
  context: string;
  description: string;
  targetUrl?: string;
}

export interface LocalGitHost {
  /** The API base, for `"github".apiUrl`. */
  apiUrl: string;
  /** Where repositories are cloned from, for `"github".webUrl`. */
  webUrl: string;
  /** Commit statuses received, in order. */
  statuses: GitHostStatus[];
  stop(): Promise<void>;
}

/** One path segment of an owner or repository name, as GitHub allows them (and nothing that walks out of `root`). */
const SEGMENT = /^[A-Za-z0-9_.-]{1,100}$/;
const validSlug = (owner: string, name: string) => SEGMENT.test(owner) && SEGMENT.test(name) && ![owner, name].some((s) => s === '.' || s === '..');

export function repositoryPath(root: string, slug: string): string {
  const [owner = '', name = '', ...rest] = slug.split('/');
  if (rest.length > 0 || !validSlug(owner, name)) throw new Error(`git-host: ${JSON.stringify(slug)} is not OWNER/NAME`);
  return join(root, owner, `${name}.git`);
}

function gitShow(repo: string, ref: string, path: string): Promise<string | null> {
  return new Promise((resolve) => {
    execFile('git', ['-C', repo, 'show', `${ref}:${path}`], { maxBuffer: 2 * 1024 * 1024, encoding: 'utf8' }, (err, stdout) => resolve(err ? null : stdout));
  });
}

/** The branch HEAD names in a bare repository (`git-host create` makes it `main`). */
function defaultBranch(repo: string): string {
  const ref = execFileSync('git', ['-C', repo, 'symbolic-ref', '--quiet', 'HEAD'], { encoding: 'utf8' }).trim();
  return ref.replace(/^refs\/heads\//, '') || 'main';
}

export async function startLocalGitHost(options: { root: string; port?: number; log?: (line: string) => void }): Promise<LocalGitHost> {
  const statuses: GitHostStatus[] = [];
  const log = options.log ?? (() => undefined);
  const send = (res: ServerResponse, status: number, body: string, type = 'application/json') => {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const repoOnly = /^\/repos\/([^/]+)\/([^/]+)\/?$/.exec(url.pathname);
    if (repoOnly) return repositoryResource(res, repoOnly[1]!, repoOnly[2]!, req.method);
    const m = /^\/repos\/([^/]+)\/([^/]+)\/(contents|statuses)\/(.+)$/.exec(url.pathname);
    if (!m || !validSlug(m[1]!, m[2]!)) return send(res, 404, JSON.stringify({ message: 'Not Found' }));
    const [owner, name, kind, rest] = [m[1]!, m[2]!, m[3]!, m[4]!];
    const repo = repositoryPath(options.root, `${owner}/${name}`);
    if (!existsSync(repo)) return send(res, 404, JSON.stringify({ message: 'Not Found' }));
    if (kind === 'contents' && req.method === 'GET') {
      const ref = url.searchParams.get('ref') ?? 'HEAD';
      const path = rest.split('/').map(decodeURIComponent).join('/');
      // A ref or path that git would read as an option, or that leaves the tree, is not a file here.
      if (!/^[\w./-]{1,200}$/.test(ref) || ref.startsWith('-') || path.split('/').some((s) => s === '..' || s === '')) return send(res, 404, JSON.stringify({ message: 'Not Found' }));
      const text = await gitShow(repo, ref, path);
      return text === null ? send(res, 404, JSON.stringify({ message: 'Not Found' })) : send(res, 200, text, 'text/plain; charset=utf-8');
    }
    if (kind === 'statuses' && req.method === 'POST') {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        return send(res, 400, JSON.stringify({ message: 'Problems parsing JSON' }));
      }
      if (typeof body.state !== 'string') return send(res, 422, JSON.stringify({ message: 'state is required' }));
      const status: GitHostStatus = {
        repo: `${owner}/${name}`,
        sha: rest,
        state: body.state,
        context: String(body.context ?? 'default'),
        description: String(body.description ?? ''),
        ...(typeof body.target_url === 'string' ? { targetUrl: body.target_url } : {}),
      };
      statuses.push(status);
      log(`status ${status.repo}@${status.sha.slice(0, 8)} ${status.context}: ${status.state} ${status.description}`);
      return send(res, 201, JSON.stringify({ id: statuses.length, state: status.state }));
    }
    return send(res, 405, JSON.stringify({ message: `${req.method} is not allowed here` }));
  };
  /**
   * GitHub's repository resource (GET /repos/{owner}/{name}), with the fields a client reads to
   * know it may see the repository: `slipway doctor`'s "the planner reaches the Git host" asks it.
   */
  const repositoryResource = (res: ServerResponse, owner: string, name: string, method: string | undefined): void => {
    if (!validSlug(owner, name) || !existsSync(repositoryPath(options.root, `${owner}/${name}`))) return send(res, 404, JSON.stringify({ message: 'Not Found' }));
    if (method !== 'GET') return send(res, 405, JSON.stringify({ message: `${method} is not allowed here` }));
    const cloneUrl = `${pathToFileURL(options.root).href}/${owner}/${name}.git`;
    const body = { name, full_name: `${owner}/${name}`, owner: { login: owner }, private: false, default_branch: defaultBranch(repositoryPath(options.root, `${owner}/${name}`)), clone_url: cloneUrl, html_url: cloneUrl };
    send(res, 200, JSON.stringify(body));
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => send(res, 500, JSON.stringify({ message: (err as Error).message })));
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    apiUrl: `http://127.0.0.1:${port}`,
    webUrl: pathToFileURL(options.root).href,
    statuses,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        // Stopping twice is not an error (a test stops it to see the host down).
        if (!server.listening) return resolve();
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/**
 * The post-receive hook: for each branch or tag pushed, GitHub's push event (the fields the
 * webhook reads: ref, before, after, head_commit, repository with pushed_at, pusher, sender),
 * signed with the repository's webhook secret (X-Hub-Signature-256) and POSTed to the URL of
 * `slipway-webhook.json` beside it. What the server answered is printed to the pusher.
 */
const HOOK_SCRIPT = `// Written by slipway git-host: sends GitHub's push webhook for each pushed ref.
const { execFileSync } = require('node:child_process');
const { createHmac, randomUUID } = require('node:crypto');
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
// post-receive runs in the repository (GIT_DIR=.): the hook file sits in its hooks/.
const dir = require('node:path').resolve(__dirname, '..');
const { url, secret, slug, webUrl } = JSON.parse(readFileSync(join(dir, 'slipway-webhook.json'), 'utf8'));
const git = (...args) => execFileSync('git', ['--git-dir', dir, ...args], { encoding: 'utf8' }).trim();
const [owner, name] = slug.split('/');
(async () => {
  for (const line of readFileSync(0, 'utf8').split('\\n').filter(Boolean)) {
    const [before, after, ref] = line.split(' ');
    const deleted = /^0+$/.test(after);
    const head = deleted ? undefined : git('log', '-1', '--format=%an%x00%ae%x00%B', after).split('\\0');
    const payload = {
      ref, before, after, deleted, created: /^0+$/.test(before), compare: '', commits: [],
      head_commit: head ? { id: after, message: head[2].trim(), url: '', author: { name: head[0], email: head[1], username: head[0] } } : null,
      repository: {
        full_name: slug, name, owner: { login: owner, name: owner }, private: false, visibility: 'public',
        clone_url: webUrl + '/' + slug + '.git', html_url: webUrl + '/' + slug, default_branch: 'main',
        pushed_at: Math.floor(Date.now() / 1000),
      },
      pusher: { name: process.env.USER || 'local', email: '' }, sender: { login: process.env.USER || 'local' },
    };
    const body = JSON.stringify(payload);
    const signature = 'sha256=' + createHmac('sha256', secret).update(body).digest('hex');
    try {
      const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': signature } });
      console.log('slipway webhook ' + ref + ': ' + res.status + ' ' + (await res.text()));
    } catch (err) {
      console.log('slipway webhook ' + ref + ': not delivered to ' + url + ': ' + (err.cause?.code || err.message));
    }
  }
})();
`;

/**
 * A bare repository `<root>/<owner>/<name>.git` whose pushes send GitHub's push webhook to
 * `webhookUrl`, signed with `secret` (what `slipway repo add OWNER/NAME --host github` printed).
 * The secret is kept beside it, readable by its owner only. Returns the repository's path (push to it).
 */
export function createHostedRepository(root: string, slug: string, webhook: { url: string; secret: string }): string {
  const repo = repositoryPath(root, slug);
  if (!existsSync(repo)) {
    mkdirSync(repo, { recursive: true });
    execFileSync('git', ['init', '-q', '--bare', '-b', 'main', repo], { stdio: ['ignore', 'pipe', 'pipe'] });
  }
  writeFileSync(join(repo, 'slipway-webhook.json'), `${JSON.stringify({ url: webhook.url, secret: webhook.secret, slug, webUrl: pathToFileURL(root).href })}\n`, { mode: 0o600 });
  chmodSync(join(repo, 'slipway-webhook.json'), 0o600);
  // The script is CommonJS whatever package.json lies above the repository (.cjs); node runs it.
  writeFileSync(join(repo, 'hooks', 'post-receive.cjs'), HOOK_SCRIPT, { mode: 0o644 });
  const hook = join(repo, 'hooks', 'post-receive');
  writeFileSync(hook, `#!/bin/sh\nexec "${process.execPath}" "$(dirname "$0")/post-receive.cjs"\n`, { mode: 0o755 });
  chmodSync(hook, 0o755);
  return repo;
}
