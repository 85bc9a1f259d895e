// Real git repositories for the clone tests, and a loopback HTTP git server
// (`git http-backend` behind node's http server) that demands Basic credentials.

import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

const IDENTITY = {
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 'test@example.com',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 'test@example.com',
  GIT_CONFIG_NOSYSTEM: '1',
  HOME: '/nonexistent',
};

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    env: { PATH: process.env['PATH'], ...IDENTITY },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}

function commit(dir: string, file: string, content: string, message: string): string {
  writeFileSync(join(dir, file), content);
  git(dir, 'add', file);
  git(dir, 'commit', '-q', '-m', message);
  return git(dir, 'rev-parse', 'HEAD');
}

export interface OriginRepo {
  /** A bare repository to clone from. */
  bare: string;
  commits: { first: string; second: string; third: string; feature: string; pr: string; mr: string; tagged: string };
}

/**
 * main: first → second → third (tag v1.0.0 on second); branch feature off first;
 * refs/pull/7/head and refs/merge-requests/3/head on commits no branch holds.
 */
export function createOrigin(root: string, submodule?: string): OriginRepo {
  const work = join(root, 'work');
  mkdirSync(work, { recursive: true });
  git(work, 'init', '-q', '-b', 'main');
  const first = commit(work, 'README.md', 'first\n', 'first');
  const second = commit(work, 'README.md', 'second\n', 'second');
  git(work, 'tag', '-a', 'v1.0.0', '-m', 'release 1.0.0');
  git(work, 'tag', 'lightweight');
  if (submodule !== undefined) {
    git(work, '-c', 'protocol.file.allow=always', 'submodule', 'add', '-q', submodule, 'lib');
    git(work, 'commit', '-q', '-m', 'add submodule');
  }
  const third = commit(work, 'README.md', 'third\n', 'third');
  git(work, 'checkout', '-q', '-b', 'feature', first);
  const feature = commit(work, 'feature.txt', 'feature\n', 'feature');
  git(work, 'checkout', '-q', '--detach', first);
  const pr = commit(work, 'pr.txt', 'pull request 7\n', 'pull request');
  git(work, 'checkout', '-q', '--detach', first);
  const mr = commit(work, 'mr.txt', 'merge request 3\n', 'merge request');
  git(work, 'checkout', '-q', 'main');
  git(work, 'update-ref', 'refs/pull/7/head', pr);
  git(work, 'update-ref', 'refs/merge-requests/3/head', mr);
  const bare = join(root, 'origin.git');
  git(root, 'clone', '-q', '--mirror', work, bare);
  return { bare, commits: { first, second, third, feature, pr, mr, tagged: second } };
}

export function createLibrary(root: string): string {
  const dir = join(root, 'lib');
  mkdirSync(dir, { recursive: true });
  git(dir, 'init', '-q', '-b', 'main');
  commit(dir, 'lib.txt', 'library\n', 'library');
  return dir;
}

export interface GitHttpServer {
  url: string;
  /** Authorization headers received, in order. */
  authorizations: (string | undefined)[];
  close(): Promise<void>;
}

/** Serves the bare repositories under `projectRoot` over smart HTTP, with Basic auth. */
export async function startGitHttpServer(projectRoot: string, user: string, password: string): Promise<GitHttpServer> {
  const expected = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const authorizations: (string | undefined)[] = [];
  const server: Server = createServer((req, res) => {
    authorizations.push(req.headers.authorization);
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"' }).end('unauthorized');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const child = spawn('git', ['http-backend'], {
      env: {
        PATH: process.env['PATH'],
        GIT_PROJECT_ROOT: projectRoot,
        GIT_HTTP_EXPORT_ALL: '1',
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        REQUEST_METHOD: req.method ?? 'GET',
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        HTTP_CONTENT_ENCODING: req.headers['content-encoding'] ?? '',
        GIT_PROTOCOL: (req.headers['git-protocol'] as string | undefined) ?? '',
        REMOTE_USER: user,
        REMOTE_ADDR: '127.0.0.1',
      },
    });
    req.pipe(child.stdin);
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.on('close', () => {
      const out = Buffer.concat(chunks);
      const split = out.indexOf('\r\n\r\n');
      const head = out.subarray(0, split).toString('latin1');
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of head.split('\r\n')) {
        const i = line.indexOf(':');
        if (i < 0) continue;
        const name = line.slice(0, i).trim();
        const value = line.slice(i + 1).trim();
        if (name.toLowerCase() === 'status') status = Number(value.split(' ')[0]);
        else headers[name] = value;
      }
      res.writeHead(status, headers).end(out.subarray(split + 4));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    authorizations,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
