// The GitHub App: installation tokens minted per repository (RS256 JWT → installation →
// access token scoped to the one repository and two permissions), against a stand-in of
// GitHub's App endpoints in front of the fake Git host.

import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScmApiError } from '../../core/scm/fetch-config.js';
import { githubAppJwt, INSTALLATION_PERMISSIONS } from '../../core/scm/github-app.js';
import { createScmAccess } from '../../lambdas/shared/scm.js';
import { GithubAppTokens } from '../../lambdas/shared/github-app-tokens.js';
import { CLONE_PERMISSIONS } from '../../core/scm/github-app.js';
import { startFakeGitHost, type FakeGitHost } from '../support/fake-git-host.js';
import { startGithubAppStandIn, type AppStandIn } from '../support/github-app-stand-in.js';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
const other = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
const SHA = 'a'.repeat(40);
let git: FakeGitHost;
let app: AppStandIn;

beforeAll(async () => {
  git = await startFakeGitHost();
  git.setFile('acme/app', SHA, '.drone.yml', 'kind: pipeline\nname: app\n');
  git.setFile('acme/other', SHA, '.drone.yml', 'kind: pipeline\nname: other\n');
  app = await startGithubAppStandIn({ appId: '123', privateKey, installedOn: ['acme/app', 'acme/other'], upstream: git.apiUrl });
});
afterAll(async () => {
  await Promise.all([git?.stop(), app?.stop()]);
});

const repo = (slug: string) => ({ slug, scm: 'github' as const, link: '', httpUrl: '' });

describe('GitHub App installation tokens', () => {
  it('signs a JWT GitHub accepts: RS256, issued a minute ago, expiring within ten minutes', () => {
    const [header, payload] = githubAppJwt({ appId: '123', privateKey }, 1_000_000).split('.').slice(0, 2).map((p) => JSON.parse(Buffer.from(p!, 'base64url').toString()));
    expect(header).toEqual({ alg: 'RS256', typ: 'JWT' });
    expect(payload).toEqual({ iat: 999_940, exp: 1_000_540, iss: '123' });
  });

  it('reads the pipeline file and posts statuses with a token minted for that one repository, reused until it expires', async () => {
    const scm = createScmAccess({ credentials: async () => ({ github: { apiUrl: app.url, appId: '123', privateKey } }) });
    expect(await scm.fetchConfig(repo('acme/app'), '.drone.yml', SHA)).toBe('kind: pipeline\nname: app\n');
    await scm.postStatus(repo('acme/app'), SHA, { state: 'success', context: 'continuous-integration/slipway', description: 'passed' });
    expect(app.mints).toEqual([{ installationId: 4242, body: { repositories: ['app'], permissions: INSTALLATION_PERMISSIONS } }]);
    const token = [...app.tokens.keys()][0]!;
    expect(git.requests.slice(-2).map((r) => r.token)).toEqual([token, token]);
    expect(git.statuses.at(-1)).toMatchObject({ repo: 'acme/app', state: 'success', token });
    // Another repository gets its own token: one token never covers two repositories.
    expect(await scm.fetchConfig(repo('acme/other'), '.drone.yml', SHA)).toBe('kind: pipeline\nname: other\n');
    expect(app.mints.map((m) => m.body.repositories)).toEqual([['app'], ['other']]);
  });

  it('says what is wrong when the App is not installed on the repository or its key is not the App’s', async () => {
    const scm = createScmAccess({ credentials: async () => ({ github: { apiUrl: app.url, appId: '123', privateKey } }) });
    const missing = await scm.fetchConfig(repo('acme/not-installed'), '.drone.yml', SHA).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ScmApiError);
    expect((missing as Error).message).toMatch(/^scm: could not find the App installation of acme\/not-installed: GitHub answered 404 \(is the App installed on that repository\?\)/);
    const wrongKey = createScmAccess({ credentials: async () => ({ github: { apiUrl: app.url, appId: '123', privateKey: other.privateKey } }) });
    await expect(wrongKey.fetchConfig(repo('acme/app'), '.drone.yml', SHA)).rejects.toThrow(/GitHub answered 401 \(check the App id and private key\)/);
    const noKey = createScmAccess({ credentials: async () => ({ github: { apiUrl: app.url, appId: '123' } }) });
    await expect(noKey.fetchConfig(repo('acme/app'), '.drone.yml', SHA)).rejects.toThrow('scm: "github".appId is set but "github".privateKey');
  });
});

// GitHub: GET /repos/{owner}/{repo}/installation finds the installation
// (https://docs.github.com/en/rest/apps/apps#get-a-repository-installation-for-the-authenticated-app),
// POST /app/installations/{installation_id}/access_tokens mints a token that expires an hour later
// (https://docs.github.com/en/rest/apps/apps#create-an-installation-access-token-for-an-app).
describe('the installation id of a repository is kept: a mint is one call to GitHub', () => {
  const creds = { appId: '123', privateKey };
  const since = (n: number) => app.appRequests.slice(n);

  it('looks the installation up once, then only asks for tokens', async () => {
    const tokens = new GithubAppTokens();
    const before = app.appRequests.length;
    await tokens.mint(creds, app.url, 'acme/app', CLONE_PERMISSIONS);
    await tokens.mint(creds, app.url, 'acme/app', CLONE_PERMISSIONS);
    expect(since(before)).toEqual(['installation acme/app', `access_tokens ${app.installationId()}`, `access_tokens ${app.installationId()}`]);
    // Kept per repository: another one is looked up.
    await tokens.mint(creds, app.url, 'acme/other', CLONE_PERMISSIONS);
    expect(since(before).slice(3)).toEqual(['installation acme/other', `access_tokens ${app.installationId()}`]);
  });

  it('a new instance (a cold Lambda) told nothing looks it up again, and hands what GitHub named to be kept', async () => {
    await new GithubAppTokens().mint(creds, app.url, 'acme/app', CLONE_PERMISSIONS);
    const before = app.appRequests.length;
    const found: number[] = [];
    await new GithubAppTokens().mint(creds, app.url, 'acme/app', CLONE_PERMISSIONS, { found: async (id) => void found.push(id) });
    expect(since(before)).toEqual(['installation acme/app', `access_tokens ${app.installationId()}`]);
    expect(found).toEqual([app.installationId()]);
  });

  it("a new instance given the repository record's id buys the token in one call, and has nothing new to keep", async () => {
    const before = app.appRequests.length;
    const found: number[] = [];
    const tokens = new GithubAppTokens();
    await tokens.mint(creds, app.url, 'acme/app', CLONE_PERMISSIONS, { known: app.installationId(), found: async (id) => void found.push(id) });
    expect(since(before)).toEqual([`access_tokens ${app.installationId()}`]);
    expect(found).toEqual([]);
    // Kept by the instance from then on, told or not.
    await tokens.mint(creds, app.url, 'acme/app', CLONE_PERMISSIONS);
    expect(since(before)).toEqual([`access_tokens ${app.installationId()}`, `access_tokens ${app.installationId()}`]);
  });

  it('the App installed again (the kept id answers 404): looked up once more, and the token is minted', async () => {
    const tokens = new GithubAppTokens();
    await tokens.mint(creds, app.url, 'acme/app', CLONE_PERMISSIONS);
    const old = app.installationId();
    const fresh = app.reinstall();
    const before = app.appRequests.length;
    const minted = await tokens.mint(creds, app.url, 'acme/app', CLONE_PERMISSIONS);
    expect(app.tokens.get(minted.token)?.repositories).toEqual(['app']);
    expect(since(before)).toEqual([`access_tokens ${old}`, 'installation acme/app', `access_tokens ${fresh}`]);
    // The new id is kept.
    const after = app.appRequests.length;
    await tokens.mint(creds, app.url, 'acme/app', CLONE_PERMISSIONS);
    expect(since(after)).toEqual([`access_tokens ${fresh}`]);
  });

  it('GitHub down for the kept id is not a stale id: the error is GitHub\'s, with no second lookup', async () => {
    const tokens = new GithubAppTokens();
    await tokens.mint(creds, app.url, 'acme/app', CLONE_PERMISSIONS);
    app.failNext(1, 503);
    const before = app.appRequests.length;
    await expect(tokens.mint(creds, app.url, 'acme/app', CLONE_PERMISSIONS)).rejects.toThrow(/could not mint an installation token for acme\/app: GitHub answered 503/);
    expect(since(before)).toEqual([`access_tokens ${app.installationId()}`]);
  });

  it('the planner\'s token near its end is bought again with the kept installation id: the file waits for one call, not two', async () => {
    const scm = createScmAccess({ credentials: async () => ({ github: { apiUrl: app.url, appId: '123', privateKey } }) });
    app.setTokenLife(4 * 60_000); // under the five minutes before its end at which a token is replaced
    try {
      await scm.fetchConfig(repo('acme/app'), '.drone.yml', SHA);
      const before = app.appRequests.length;
      expect(await scm.fetchConfig(repo('acme/app'), '.drone.yml', SHA)).toBe('kind: pipeline\nname: app\n');
      expect(since(before)).toEqual([`access_tokens ${app.installationId()}`]);
    } finally {
      app.setTokenLife(3_600_000);
    }
  });

  it('a token past its expiry is refused, as GitHub refuses it (401 Bad credentials): the stand-in never serves a token reused past its life', async () => {
    const tokens = new GithubAppTokens();
    const creds = { appId: '123', privateKey };
    app.setTokenLife(-1000); // minted already expired
    let expired: { token: string; expiresAt: number };
    try {
      expired = await tokens.mint(creds, app.url, 'acme/app', CLONE_PERMISSIONS);
    } finally {
      app.setTokenLife(3_600_000);
    }
    const live = await tokens.mint(creds, app.url, 'acme/app', CLONE_PERMISSIONS);
    const read = (token: string) => fetch(`${app.url}/repos/acme/app/contents/.drone.yml?ref=${SHA}`, { headers: { authorization: `token ${token}`, accept: 'application/vnd.github.raw' } });
    expect(expired.expiresAt).toBeLessThan(Date.now());
    const refused = await read(expired.token);
    expect([refused.status, await refused.json()]).toEqual([401, { message: 'Bad credentials' }]);
    expect((await read(live.token)).status).toBe(200);
  });

  it('requests of one repository at once share one token: the planner planning a batch of its pushes', async () => {
    const scm = createScmAccess({ credentials: async () => ({ github: { apiUrl: app.url, appId: '123', privateKey } }) });
    const before = app.appRequests.length;
    const texts = await Promise.all([1, 2, 3].map(() => scm.fetchConfig(repo('acme/app'), '.drone.yml', SHA)));
    expect(texts).toEqual([1, 2, 3].map(() => 'kind: pipeline\nname: app\n'));
    expect(since(before)).toEqual(['installation acme/app', `access_tokens ${app.installationId()}`]);
  });
});
