// Golden tests for the Git hosts: every webhook payload under test (the octokit examples
// for GitHub, the recorded Gitea and GitLab payloads and variants of them) reads to exactly
// the event in test/fixtures/scm/events.json, and every API request a host module builds
// is exactly the one in requests.json. The three hosts share code where their payloads and
// APIs are alike; these files show that sharing changes nothing a host sees or sends.
// `UPDATE_GOLDEN=1 npx vitest run test/control-plane/scm-golden.test.ts` rewrites them; review the diff.
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import examples from '@octokit/webhooks-examples/api.github.com/index.json' with { type: 'json' };
import { hookRepository, parseEvent, type Headers } from '../../core/scm/parse-event.js';
import { configRequest } from '../../core/scm/fetch-config.js';
import { statusRequest } from '../../core/scm/post-status.js';
import type { CommitState, HookHost, ScmCredentials } from '../../core/scm/types.js';

const update = process.env.UPDATE_GOLDEN === '1';
const goldenDir = new URL('../fixtures/scm/', import.meta.url);
const fixture = (name: string): Record<string, unknown> => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));

/** `a.b.c` set to `value` in a copy of `payload` (`undefined` deletes it). */
function variant(payload: Record<string, unknown>, changes: Record<string, unknown>): Record<string, unknown> {
  const copy = structuredClone(payload);
  for (const [path, value] of Object.entries(changes)) {
    const keys = path.split('.');
    let at = copy as Record<string, unknown>;
    for (const key of keys.slice(0, -1)) at = at[key] as Record<string, unknown>;
    const last = keys.at(-1)!;
    if (value === undefined) delete at[last];
    else at[last] = value;
  }
  return copy;
}

interface Case {
  name: string;
  host: HookHost;
  headers: Headers;
  payload: unknown;
}

type Example = { name: string; examples: Record<string, unknown>[] };
const githubExample = (name: string, which: (payload: Record<string, unknown>) => boolean): Record<string, unknown> => {
  const found = (examples as unknown as Example[]).find((e) => e.name === name)?.examples.find(which);
  if (!found) throw new Error(`no octokit ${name} example matches`);
  return found;
};

function cases(): Case[] {
  const out: Case[] = [];
  for (const group of examples as unknown as Example[]) {
    if (!['push', 'pull_request', 'ping', 'create', 'delete'].includes(group.name)) continue;
    group.examples.forEach((payload, i) => {
      const action = typeof payload.action === 'string' ? `.${payload.action}` : '';
      out.push({ name: `github ${group.name}${action} #${i}`, host: 'github', headers: { 'x-github-event': group.name }, payload });
    });
  }
  const github = (name: string, event: string, payload: unknown) => out.push({ name: `github ${name}`, host: 'github', headers: { 'x-github-event': event }, payload });
  const ghPush = githubExample('push', (p) => p.ref === 'refs/heads/main' || p.ref === 'refs/heads/master');
  const ghPr = githubExample('pull_request', (p) => p.action === 'opened');
  github('push without head_commit (author from the pusher)', 'push', variant(ghPush, { head_commit: undefined }));
  github('push without sender', 'push', variant(ghPush, { sender: undefined }));
  github('push of an internal repository', 'push', variant(ghPush, { 'repository.visibility': 'internal', 'repository.private': true }));
  github('push flagged deleted', 'push', variant(ghPush, { deleted: true }));
  github('push to a note ref', 'push', variant(ghPush, { ref: 'refs/notes/commits' }));
  github('pull request from a fork', 'pull_request', variant(ghPr, { 'pull_request.head.repo.full_name': 'forker/Hello-World' }));
  github('pull request from a deleted fork', 'pull_request', variant(ghPr, { 'pull_request.head.repo': null }));
  github('pull request without a user', 'pull_request', variant(ghPr, { 'pull_request.user': undefined }));
  github('pull request with a malformed time', 'pull_request', variant(ghPr, { 'pull_request.updated_at': 'yesterday' }));
  const giteaPush = fixture('gitea-push.json');
  const giteaPr = fixture('gitea-pull-request-fork.json');
  const gitea = (name: string, event: string, payload: unknown) => out.push({ name: `gitea ${name}`, host: 'gitea', headers: { 'x-gitea-event': event }, payload });
  gitea('push', 'push', giteaPush);
  gitea('push without head_commit', 'push', variant(giteaPush, { head_commit: undefined }));
  gitea('push without sender', 'push', variant(giteaPush, { sender: undefined }));
  gitea('push of a tag', 'push', variant(giteaPush, { ref: 'refs/tags/v1.2.0' }));
  gitea('push deleting a branch', 'push', variant(giteaPush, { after: '0'.repeat(40) }));
  gitea('push with an owner named by username only', 'push', variant(giteaPush, { 'repository.owner.login': undefined }));
  gitea('push read from the Gogs header', 'push', giteaPush);
  out.at(-1)!.headers = { 'x-gogs-event': 'push' };
  gitea('pull request from a fork (synchronized)', 'pull_request', giteaPr);
  gitea('pull request opened', 'pull_request', variant(giteaPr, { action: 'opened', 'pull_request.created_at': '2024-05-01T10:00:00+02:00' }));
  gitea('pull request reopened', 'pull_request', variant(giteaPr, { action: 'reopened' }));
  gitea('pull request closed', 'pull_request', variant(giteaPr, { action: 'closed' }));
  gitea('pull request from the same repository', 'pull_request', variant(giteaPr, { 'pull_request.head.repo_id': (giteaPr.pull_request as { base: { repo_id: number } }).base.repo_id }));
  gitea(
    'pull request without repo ids',
    'pull_request',
    variant(giteaPr, { 'pull_request.head.repo_id': undefined, 'pull_request.base.repo_id': undefined }),
  );
  gitea('pull request without a user', 'pull_request', variant(giteaPr, { 'pull_request.user': undefined }));
  gitea('create', 'create', giteaPush);
  gitea('issues', 'issues', giteaPush);
  gitea('malformed pull request number', 'pull_request', variant(giteaPr, { 'pull_request.number': '7' }));
  const gitlab = (name: string, event: string, payload: unknown) => out.push({ name: `gitlab ${name}`, host: 'gitlab', headers: { 'x-gitlab-event': event }, payload });
  const glPush = fixture('gitlab-push.json');
  const glMr = fixture('gitlab-merge-request.json');
  gitlab('push', 'Push Hook', glPush);
  gitlab('push deleting a branch', 'Push Hook', variant(glPush, { after: '0'.repeat(40) }));
  gitlab('push with no commits', 'Push Hook', variant(glPush, { commits: [] }));
  gitlab('tag push', 'Tag Push Hook', fixture('gitlab-tag-push.json'));
  gitlab('merge request opened', 'Merge Request Hook', glMr);
  gitlab('merge request edited', 'Merge Request Hook', variant(glMr, { 'object_attributes.action': 'update' }));
  gitlab('merge request pushed to', 'Merge Request Hook', variant(glMr, { 'object_attributes.action': 'update', 'object_attributes.oldrev': 'a'.repeat(40) }));
  gitlab('merge request reopened from a fork', 'Merge Request Hook', variant(glMr, { 'object_attributes.action': 'reopen', 'object_attributes.source_project_id': 99 }));
  gitlab('merge request closed', 'Merge Request Hook', variant(glMr, { 'object_attributes.action': 'close' }));
  gitlab('note', 'Note Hook', glMr);
  return out;
}

/** What a payload reads to: the event, or the error's message. */
function outcome(c: Case): unknown {
  const body = JSON.stringify(c.payload);
  const read = <T>(f: () => T): T | { error: string } => {
    try {
      return f();
    } catch (err) {
      return { error: `${(err as Error).name}: ${(err as Error).message}` };
    }
  };
  return { repository: read(() => hookRepository(c.host, body) ?? null), event: read(() => parseEvent(c.host, c.headers, body)) };
}

function requests(): Record<string, unknown> {
  const creds: Record<HookHost, ScmCredentials> = {
    github: { token: 'gh-token' },
    gitea: { token: 'gitea-token', apiUrl: 'https://git.example.com/gitea/' },
    gitlab: { token: 'gl-token', apiUrl: 'https://gitlab.example.com/api/v4' },
  };
  const repos: Record<HookHost, { slug: string; link: string }> = {
    github: { slug: 'octo/app.js', link: 'https://github.com/octo/app.js' },
    gitea: { slug: 'team/svc', link: 'https://git.example.com/gitea/team/svc' },
    gitlab: { slug: 'group/sub/proj', link: 'https://gitlab.example.com/group/sub/proj' },
  };
  const sha = 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7';
  const out: Record<string, unknown> = {};
  for (const host of ['github', 'gitea', 'gitlab'] as const) {
    out[`${host} config`] = configRequest(host, creds[host], repos[host], 'ci/my pipeline.yml', sha);
    out[`${host} config without a token`] = configRequest(host, { ...creds[host], token: undefined }, repos[host], '.drone.yml', sha);
    for (const state of ['pending', 'running', 'success', 'failure', 'error'] as CommitState[]) {
      out[`${host} status ${state}`] = statusRequest(host, creds[host], repos[host], sha, {
        state,
        context: 'slipway/build',
        description: `Build #7 ${state}`,
        targetUrl: 'https://ci.example.com/#/builds/octo/app/7',
      });
    }
    out[`${host} status with a long description and no link`] = statusRequest(host, creds[host], repos[host], sha, {
      state: 'failure',
      context: 'continuous-integration/slipway',
      description: 'x'.repeat(300),
    });
  }
  out['github enterprise config'] = configRequest('github', { token: 't', apiUrl: 'https://ghe.example.com/api/v3/' }, repos.github, '.drone.yml', sha);
  return out;
}

function golden(file: string, actual: unknown): void {
  const path = fileURLToPath(new URL(file, goldenDir));
  const text = `${JSON.stringify(actual, null, 2)}\n`;
  if (update) writeFileSync(path, text);
  // A missing expected file is a failure, not a pass against itself.
  expect(existsSync(path), `${path} is missing: run with UPDATE_GOLDEN=1 and review it`).toBe(true);
  expect(JSON.parse(text)).toEqual(JSON.parse(readFileSync(path, 'utf8')));
}

describe('golden: what each host sends and what Slipway sends back', () => {
  it('reads every webhook payload under test to the recorded event (test/fixtures/scm/events.json)', () => {
    const all = cases();
    expect(all.filter((c) => c.host === 'github').length).toBeGreaterThanOrEqual(40);
    golden('events.json', Object.fromEntries(all.map((c) => [c.name, outcome(c)])));
  });

  it('builds every host API request as recorded (test/fixtures/scm/requests.json)', () => {
    golden('requests.json', requests());
  });
});
