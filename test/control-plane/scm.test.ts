import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import examples from '@octokit/webhooks-examples/api.github.com/index.json' with { type: 'json' };
import { constantTimeEqual, hmacSha256Hex, verifySignature } from '../../core/scm/verify-signature.js';
import { deliveryId, hookRepository, hostDeliveryHeader, parseEvent } from '../../core/scm/parse-event.js';
import { configRequest, fetchConfig, ScmApiError } from '../../core/scm/fetch-config.js';
import { postStatus, statusRequest } from '../../core/scm/post-status.js';
import { locateRepository, RepositoryNameError, ScmConfigError, validateSlug } from '../../core/scm/locate.js';
import { MalformedHookError, type BuildHook, type HookHost } from '../../core/scm/types.js';
import { startFakeGitHost, type FakeGitHost } from '../support/fake-git-host.js';

type Example = { name: string; examples: Record<string, unknown>[] };
const githubExamples = (name: string): Record<string, unknown>[] =>
  (examples as unknown as Example[]).find((e) => e.name === name)!.examples;
const fixture = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

describe('verifySignature', () => {
  it("passes GitHub's documented test vector", () => {
    const secret = "It's a Secret to Everybody";
    const body = 'Hello, World!';
    const header = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';
    expect(`sha256=${hmacSha256Hex(secret, body)}`).toBe(header);
    expect(verifySignature('github', { 'x-hub-signature-256': header }, Buffer.from(body), secret)).toBe(true);
  });

  it('rejects a wrong, truncated, differently cased-secret or missing signature', () => {
    const secret = 's3cret';
    const body = '{"zen":"Keep it logically awesome."}';
    const good = `sha256=${hmacSha256Hex(secret, body)}`;
    expect(verifySignature('github', { 'x-hub-signature-256': good }, body, secret)).toBe(true);
    expect(verifySignature('github', { 'x-hub-signature-256': good.slice(0, -1) }, body, secret)).toBe(false);
    expect(verifySignature('github', { 'x-hub-signature-256': good }, `${body} `, secret)).toBe(false);
    expect(verifySignature('github', { 'x-hub-signature-256': good }, body, 'S3cret')).toBe(false);
    expect(verifySignature('github', {}, body, secret)).toBe(false);
    expect(verifySignature('github', { 'x-hub-signature-256': good }, body, '')).toBe(false);
    // The bare hex form belongs to Gitea; GitHub's header needs its prefix.
    expect(verifySignature('github', { 'x-hub-signature-256': hmacSha256Hex(secret, body) }, body, secret)).toBe(false);
  });

  it('verifies Gitea hex signatures and GitLab tokens', () => {
    const body = fixture('gitea-push.json');
    expect(verifySignature('gitea', { 'x-gitea-signature': hmacSha256Hex('k', body) }, body, 'k')).toBe(true);
    expect(verifySignature('gitea', { 'x-gitea-signature': hmacSha256Hex('other', body) }, body, 'k')).toBe(false);
    expect(verifySignature('gitlab', { 'x-gitlab-token': 'tok' }, '{}', 'tok')).toBe(true);
    expect(verifySignature('gitlab', { 'x-gitlab-token': 'to' }, '{}', 'tok')).toBe(false);
    expect(verifySignature('gitlab', { 'x-gitlab-token': 'tok ' }, '{}', 'tok')).toBe(false);
  });

  it('compares strings of different lengths without throwing', () => {
    expect(constantTimeEqual('a', 'ab')).toBe(false);
    expect(constantTimeEqual('', '')).toBe(true);
  });
});

describe('parseEvent: GitHub (octokit examples)', () => {
  const parse = (event: string, payload: unknown) =>
    parseEvent('github', { 'x-github-event': event }, JSON.stringify(payload));

  it('answers every ping example with ping', () => {
    for (const p of githubExamples('ping')) expect(parse('ping', p)).toEqual({ kind: 'ping' });
  });

  it('turns a branch push into a push build with its changed files', () => {
    const payload = githubExamples('push').find((p) => p.ref === 'refs/heads/master')!;
    const hook = parse('push', payload) as BuildHook;
    expect(hook).toMatchObject({
      kind: 'build',
      event: 'push',
      action: '',
      sender: 'Codertocat',
      changedFiles: ['README.md'],
      repo: {
        slug: 'Codertocat/Hello-World',
        owner: 'Codertocat',
        name: 'Hello-World',
        scm: 'github',
        httpUrl: 'https://github.com/Codertocat/Hello-World.git',
        defaultBranch: 'master',
        private: false,
        visibility: 'public',
      },
      commit: {
        sha: '6113728f27ae82c7b1a177c8d03f9e96e0adf246',
        ref: 'refs/heads/master',
        branch: 'master',
        message: 'Initial commit',
        author: { login: 'Codertocat', email: '21031067+Codertocat@users.noreply.github.com' },
      },
    });
    // A new branch has no previous commit.
    expect(hook.commit.before).toBeUndefined();
  });

  it('turns a tag push into a tag build and a tag deletion into nothing', () => {
    const pushes = githubExamples('push').filter((p) => p.ref === 'refs/tags/simple-tag');
    const created = pushes.find((p) => p.created === true)!;
    expect(parse('push', created)).toMatchObject({ kind: 'build', event: 'tag', action: 'created', tag: 'simple-tag', commit: { ref: 'refs/tags/simple-tag' } });
    for (const deleted of pushes.filter((p) => p.deleted === true)) {
      expect(parse('push', deleted)).toEqual({ kind: 'ignored', reason: 'refs/tags/simple-tag was deleted' });
    }
  });

  it('ignores create events (the tag builds from its push)', () => {
    for (const p of githubExamples('create')) expect(parse('create', p).kind).toBe('ignored');
  });

  it('builds opened, synchronize and reopened pull requests and ignores the other actions', () => {
    const all = githubExamples('pull_request');
    const building = all.filter((p) => ['opened', 'synchronize', 'reopened'].includes(p.action as string));
    expect(building.length).toBeGreaterThan(3);
    for (const p of building) {
      const hook = parse('pull_request', p) as BuildHook;
      const pr = p.pull_request as { number: number; head: { sha: string; ref: string }; base: { ref: string } };
      expect(hook).toMatchObject({
        kind: 'build',
        event: 'pull_request',
        commit: { sha: pr.head.sha, ref: `refs/pull/${pr.number}/head`, branch: pr.base.ref },
        pullRequest: { number: pr.number, sourceBranch: pr.head.ref, targetBranch: pr.base.ref, fork: false },
      });
    }
    const sync = parse('pull_request', all.find((p) => p.action === 'synchronize')) as BuildHook;
    expect(sync.action).toBe('synchronized');
    for (const p of all.filter((p) => !['opened', 'synchronize', 'reopened'].includes(p.action as string))) {
      expect(parse('pull_request', p).kind).toBe('ignored');
    }
  });

  it('marks a pull request from another repository (or a deleted fork) as a fork', () => {
    const base = structuredClone(githubExamples('pull_request').find((p) => p.action === 'opened')!) as {
      pull_request: { head: { repo: { full_name: string } | null } };
    };
    base.pull_request.head.repo = { full_name: 'someone/Hello-World' };
    expect((parse('pull_request', base) as BuildHook).pullRequest?.fork).toBe(true);
    base.pull_request.head.repo = null;
    expect((parse('pull_request', base) as BuildHook).pullRequest?.fork).toBe(true);
  });

  it('reports malformed bodies with the path that was wrong', () => {
    expect(() => parse('push', { ref: 'refs/heads/x' })).toThrow(MalformedHookError);
    expect(() => parse('push', { ref: 'refs/heads/x' })).toThrow('webhook: malformed github event: after: expected a non-empty string');
    expect(() => parseEvent('github', { 'x-github-event': 'push' }, '{"ref":')).toThrow(/body is not JSON/);
    expect(() => parse('push', [1, 2])).toThrow(/body: expected an object/);
    const noRepo = { ...githubExamples('push')[4], repository: undefined };
    expect(() => parse('push', noRepo)).toThrow('repository: expected an object');
  });

  it('ignores events it does not build', () => {
    expect(parse('issues', { action: 'opened' })).toEqual({ kind: 'ignored', reason: 'event issues does not build' });
  });
});

describe('parseEvent: Gitea and GitLab', () => {
  it('reads a Gitea push', () => {
    const hook = parseEvent('gitea', { 'x-gitea-event': 'push' }, fixture('gitea-push.json')) as BuildHook;
    expect(hook).toMatchObject({
      event: 'push',
      repo: { slug: 'gitea/webhooks', scm: 'gitea', owner: 'gitea', defaultBranch: 'master', link: 'https://gitea.example.com/gitea/webhooks' },
      commit: { sha: 'bffeb74224043ba2feb48d137756c8a9331c449a', branch: 'develop', before: '28e1879d029cb852e4844d9c718537df08844e03', message: 'Webhooks Yay!\n' },
      changedFiles: ['.drone.yml', 'README.md', 'docs/webhooks.md'],
    });
  });

  it('reads a Gitea pull request from a fork', () => {
    const hook = parseEvent('gitea', { 'x-gitea-event': 'pull_request' }, fixture('gitea-pull-request-fork.json')) as BuildHook;
    expect(hook).toMatchObject({
      event: 'pull_request',
      action: 'synchronized',
      commit: { sha: '9c1ea0bd96b24a3e8d2d5a1f8c7ae7e46bb0f3f1', ref: 'refs/pull/7/head', branch: 'master' },
      pullRequest: { number: 7, sourceBranch: 'fix-docs', targetBranch: 'master', fork: true },
      sender: 'contributor',
    });
  });

  it('reads a GitLab push, tag push and merge request', () => {
    const push = parseEvent('gitlab', { 'x-gitlab-event': 'Push Hook' }, fixture('gitlab-push.json')) as BuildHook;
    expect(push).toMatchObject({
      event: 'push',
      repo: { slug: 'mike/diaspora', owner: 'mike', name: 'diaspora', private: true, visibility: 'private', httpUrl: 'http://example.com/mike/diaspora.git' },
      commit: { sha: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7', branch: 'master', message: 'fixed readme' },
      changedFiles: ['CHANGELOG', 'app/controller/application.rb'],
      sender: 'jsmith',
    });
    const tag = parseEvent('gitlab', { 'x-gitlab-event': 'Tag Push Hook' }, fixture('gitlab-tag-push.json')) as BuildHook;
    expect(tag).toMatchObject({ event: 'tag', tag: 'v1.0.0', commit: { sha: '82b3d5ae55f7080f1e6022629cdb57bfae7cccc7', ref: 'refs/tags/v1.0.0' } });
    const mr = parseEvent('gitlab', { 'x-gitlab-event': 'Merge Request Hook' }, fixture('gitlab-merge-request.json')) as BuildHook;
    expect(mr).toMatchObject({
      event: 'pull_request',
      action: 'opened',
      commit: { sha: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7', ref: 'refs/merge-requests/1/head', branch: 'master' },
      pullRequest: { number: 1, sourceBranch: 'ms-viewport', targetBranch: 'master', fork: false },
      repo: { visibility: 'public', private: false },
    });
  });

  it('tells GitLab merge-request pushes from edits and spots forks', () => {
    const base = JSON.parse(fixture('gitlab-merge-request.json')) as { object_attributes: Record<string, unknown> };
    const edit = structuredClone(base);
    edit.object_attributes.action = 'update';
    expect(parseEvent('gitlab', { 'x-gitlab-event': 'Merge Request Hook' }, JSON.stringify(edit)).kind).toBe('ignored');
    const pushed = structuredClone(edit);
    pushed.object_attributes.oldrev = '95790bf891e76fee5e1747ab589903a6a1f80f22';
    pushed.object_attributes.source_project_id = 99;
    const hook = parseEvent('gitlab', { 'x-gitlab-event': 'Merge Request Hook' }, JSON.stringify(pushed)) as BuildHook;
    expect(hook.action).toBe('synchronized');
    expect(hook.pullRequest?.fork).toBe(true);
  });

  it('dedupes on what the host signed: the same body is the same delivery whatever its unsigned delivery header', () => {
    const body = '{"after":"abc"}';
    expect(deliveryId('github', 'acme/app', body)).toBe(deliveryId('github', 'acme/app', Buffer.from(body)));
    expect(deliveryId('github', 'acme/app', body)).toMatch(/^github:sha256:[0-9a-f]{64}$/);
    expect(deliveryId('github', 'acme/app', body)).not.toBe(deliveryId('github', 'acme/app', '{"after":"abd"}'));
    // Where it was accepted is part of it: one body is two deliveries at two hosts or repositories.
    expect(deliveryId('github', 'acme/app', body)).not.toBe(deliveryId('gitea', 'acme/app', body));
    expect(deliveryId('github', 'acme/app', body)).not.toBe(deliveryId('github', 'acme/other', body));
    expect(hostDeliveryHeader('github', { 'x-github-delivery': ' abc ' })).toBe('abc');
    expect(hostDeliveryHeader('gitlab', { 'idempotency-key': 'k', 'x-gitlab-event-uuid': 'u' })).toBe('k');
    expect(hostDeliveryHeader('gitea', {})).toBeUndefined();
  });

  it('reads the repository a body names before verifying it, and nothing else', () => {
    expect(hookRepository('github', JSON.stringify(githubExamples('push')[0]))).toBe('Codertocat/Hello-World');
    expect(hookRepository('gitea', fixture('gitea-push.json'))).toBe(JSON.parse(fixture('gitea-push.json')).repository.full_name);
    expect(hookRepository('gitlab', fixture('gitlab-merge-request.json'))).toBe(JSON.parse(fixture('gitlab-merge-request.json')).project.path_with_namespace);
    expect(hookRepository('github', '{"zen":"org ping"}')).toBeUndefined();
    expect(() => hookRepository('github', '{"repository":{"full_name":7}}')).toThrow('webhook: malformed github event: full_name: expected a non-empty string');
    expect(() => hookRepository('github', 'nope')).toThrow(MalformedHookError);
  });
});

describe('where a repository lives: configuration and its name, never the webhook body', () => {
  it('github: github.com and api.github.com unless configured; each name segment URL-encoded', () => {
    expect(locateRepository('github', 'acme/app', {})).toEqual({
      httpUrl: 'https://github.com/acme/app.git',
      link: 'https://github.com/acme/app',
      apiUrl: 'https://api.github.com',
    });
    expect(locateRepository('github', 'acme/app', { apiUrl: 'https://ghe.example.com/api/v3/', webUrl: 'https://ghe.example.com/' })).toEqual({
      httpUrl: 'https://ghe.example.com/acme/app.git',
      link: 'https://ghe.example.com/acme/app',
      apiUrl: 'https://ghe.example.com/api/v3',
    });
  });

  it('github: an Enterprise API without a web URL is refused, so its clone token never goes to github.com', () => {
    expect(() => locateRepository('github', 'acme/app', { apiUrl: 'https://ghe.example.com/api/v3' })).toThrow(ScmConfigError);
  });

  it('gitea and gitlab: the API base is required, and the web origin follows it', () => {
    for (const host of ['gitea', 'gitlab'] as const) {
      expect(() => locateRepository(host, 'team/svc', {})).toThrow(new RegExp(`^scm: no API URL for ${host}: set "${host}": \\{"apiUrl"`));
    }
    expect(locateRepository('gitea', 'team/svc', { apiUrl: 'https://git.example.com/gitea/api/v1' })).toEqual({
      httpUrl: 'https://git.example.com/gitea/team/svc.git',
      link: 'https://git.example.com/gitea/team/svc',
      apiUrl: 'https://git.example.com/gitea/api/v1',
    });
    expect(locateRepository('gitlab', 'group/sub/proj', { apiUrl: 'https://gitlab.example.com' }).httpUrl).toBe('https://gitlab.example.com/group/sub/proj.git');
  });

  it('refuses names that could leave the repository path, and URLs that are not https or carry credentials', () => {
    for (const slug of ['acme', 'acme/app/extra', 'acme/..', './app', 'acme/a b', 'acme/app?x=1', 'acme/app#x', 'acme/%2e%2e']) {
      expect(() => validateSlug('github', slug), slug).toThrow(RepositoryNameError);
    }
    expect(validateSlug('gitlab', 'group/sub/proj')).toBe('group/sub/proj');
    expect(() => locateRepository('gitea', 'team/svc', { apiUrl: 'ftp://git.example.com' })).toThrow(/must be an https:\/\/ URL/);
    expect(() => locateRepository('gitea', 'team/svc', { apiUrl: 'https://user:pw@git.example.com' })).toThrow(/no query, fragment or credentials/);
  });

  it('gitea and gitlab API requests go to the configured API, never to the origin of the repository link a webhook gave', () => {
    const attacker = { slug: 'team/svc', link: 'https://attacker.example/team/svc' };
    for (const host of ['gitea', 'gitlab'] as const) {
      expect(() => configRequest(host, { token: 't' }, attacker, '.drone.yml', 'abc')).toThrow(ScmConfigError);
      expect(() => statusRequest(host, { token: 't' }, attacker, 'abc', { state: 'success', context: 'c', description: '' })).toThrow(ScmConfigError);
      const req = configRequest(host, { token: 't', apiUrl: 'https://git.example.com' }, attacker, '.drone.yml', 'abc');
      expect(new URL(req.url).origin).toBe('https://git.example.com');
    }
    expect(new URL(configRequest('github', { token: 't' }, { slug: 'acme/app', link: 'https://attacker.example/acme/app' }, '.drone.yml', 'abc').url).origin).toBe('https://api.github.com');
  });
});

describe('host APIs against the fake Git host', () => {
  let git: FakeGitHost;
  const sha = 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7';
  const repos: Record<HookHost, { slug: string; link: string }> = {
    github: { slug: 'octo/app', link: 'https://github.com/octo/app' },
    gitea: { slug: 'team/svc', link: 'https://gitea.example.com/team/svc' },
    gitlab: { slug: 'group/sub/proj', link: 'https://gitlab.example.com/group/sub/proj' },
  };

  beforeAll(async () => {
    git = await startFakeGitHost();
    for (const r of Object.values(repos)) {
      git.setFile(r.slug, sha, '.drone.yml', `kind: pipeline\nname: ${r.slug}\n`);
      git.setFile(r.slug, sha, 'ci/my pipeline.yml', 'kind: pipeline\nname: nested\n');
    }
  });
  afterAll(async () => {
    await git?.stop();
  });

  for (const host of ['github', 'gitea', 'gitlab'] as const) {
    it(`${host}: fetches the file at the commit, including nested paths with spaces, and null when absent`, async () => {
      const creds = { apiUrl: git.apiUrl, token: `${host}-token` };
      expect(await fetchConfig(host, creds, repos[host], '.drone.yml', sha)).toBe(`kind: pipeline\nname: ${repos[host].slug}\n`);
      expect(await fetchConfig(host, creds, repos[host], 'ci/my pipeline.yml', sha)).toBe('kind: pipeline\nname: nested\n');
      expect(await fetchConfig(host, creds, repos[host], '.drone.yml', 'f'.repeat(40))).toBeNull();
      expect(git.requests.at(-1)?.token).toBe(`${host}-token`);
    });

    it(`${host}: posts commit statuses in the host's words`, async () => {
      const creds = { apiUrl: git.apiUrl, token: `${host}-token` };
      await postStatus(host, creds, repos[host], sha, { state: 'pending', context: 'slipway/build', description: 'queued', targetUrl: 'http://ci/1' });
      await postStatus(host, creds, repos[host], sha, { state: 'failure', context: 'slipway/build', description: 'x'.repeat(300) });
      const mine = git.statuses.filter((s) => s.host === host);
      expect(mine.map((s) => s.state)).toEqual(['pending', host === 'gitlab' ? 'failed' : 'failure']);
      expect(mine[0]).toMatchObject({ repo: repos[host].slug, sha, context: 'slipway/build', targetUrl: 'http://ci/1', token: `${host}-token` });
      expect(mine[1]!.description.length).toBeLessThanOrEqual(host === 'github' ? 140 : 255);
    });
  }

  it('github: also reads the base64 JSON envelope', async () => {
    const { fetchConfig: fetchWith } = await import('../../core/scm/fetch-config.js');
    const plainAccept: typeof fetch = (url, init) =>
      fetch(url, { ...init, headers: { ...(init?.headers as Record<string, string>), accept: 'application/vnd.github+json' } });
    expect(await fetchWith('github', { apiUrl: git.apiUrl }, repos.github, '.drone.yml', sha, plainAccept)).toBe('kind: pipeline\nname: octo/app\n');
  });

  it('throws a clear error for a host failure and for refused credentials', async () => {
    git.failNext(1, 503, '/contents/');
    await expect(fetchConfig('github', { apiUrl: git.apiUrl }, repos.github, '.drone.yml', sha)).rejects.toThrow(
      /scm: github answered 503 for \.drone\.yml at da1560886d4f of octo\/app/,
    );
    git.requireToken('right');
    const err = await postStatus('gitea', { apiUrl: git.apiUrl, token: 'wrong' }, repos.gitea, sha, { state: 'success', context: 'c', description: '' }).catch((e: unknown) => e);
    git.requireToken(undefined);
    expect(err).toBeInstanceOf(ScmApiError);
    expect((err as ScmApiError).status).toBe(401);
  });
});
