// The local Git host answers what the planner asks a GitHub host, so that `slipway doctor
// --local` passes against it as the README's "Local webhooks" sets it up: its check "the
// planner reaches the Git host" asks for the repository resource (GET /repos/{owner}/{name},
// lambdas/shared/scm.ts probe), which the local host once answered 404 for every repository.

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { judgeGitHost } from '../../core/doctor/judge.js';
import { repositoryPath, startLocalGitHost, type LocalGitHost } from '../../local/git-host.js';
import { createScmAccess } from '../../lambdas/shared/scm.js';

let root: string;
let gitHost: LocalGitHost;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'slipway-git-api-'));
  const bare = repositoryPath(root, 'acme/app');
  mkdirSync(join(root, 'acme'), { recursive: true });
  execFileSync('git', ['init', '-q', '--bare', '-b', 'main', bare]);
  gitHost = await startLocalGitHost({ root });
});

afterAll(async () => {
  await gitHost?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

const scm = () => createScmAccess({ credentials: async () => ({ github: { apiUrl: gitHost.apiUrl, webUrl: gitHost.webUrl, token: 'local' } }) });
const repo = (slug: string) => ({ scm: 'github' as const, slug, httpUrl: `${gitHost.webUrl}/${slug}.git`, link: `${gitHost.webUrl}/${slug}` });

describe('local Git host: the repository resource', () => {
  it("answers the planner's probe for a repository it holds, so doctor's Git host check passes", async () => {
    const answer = await scm().probe(repo('acme/app'));
    expect(answer).toEqual({ apiUrl: gitHost.apiUrl, status: 200, message: '' });
    expect(judgeGitHost({ kind: 'answered', host: 'github', repo: 'acme/app', ...(answer as { apiUrl: string; status: number; message: string }) }).status).toBe('ok');
  });

  it('describes it as GitHub does: full name, default branch, clone URL', async () => {
    const res = await fetch(`${gitHost.apiUrl}/repos/acme/app`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ full_name: 'acme/app', default_branch: 'main', clone_url: `${gitHost.webUrl}/acme/app.git` });
  });

  it('answers 404 for a repository it does not hold, and for a name that is not OWNER/NAME', async () => {
    expect(await scm().probe(repo('acme/other'))).toMatchObject({ status: 404, message: 'Not Found' });
    expect((await fetch(`${gitHost.apiUrl}/repos/acme/..`)).status).toBe(404);
  });
});
