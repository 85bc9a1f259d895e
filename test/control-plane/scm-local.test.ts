import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createScmAccess } from '../../lambdas/shared/scm.js';

let dir: string;
let first: string;
let second: string;
const git = (...args: string[]): string => execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8' }).trim();

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'slipway-local-scm-'));
  git('init', '-q', '-b', 'main');
  git('config', 'user.email', 'ci@example.com');
  git('config', 'user.name', 'CI');
  writeFileSync(join(dir, '.drone.yml'), 'kind: pipeline\nname: one\n');
  git('add', '.');
  git('commit', '-q', '-m', 'one');
  first = git('rev-parse', 'HEAD');
  writeFileSync(join(dir, '.drone.yml'), 'kind: pipeline\nname: two\n');
  git('commit', '-q', '-am', 'two');
  second = git('rev-parse', 'HEAD');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('local scm', () => {
  const repo = () => ({ slug: 'local/app', link: '', httpUrl: pathToFileURL(dir).href, scm: 'local' as const });
  const scm = createScmAccess({ credentials: async () => ({}) });

  it('reads the pipeline file at the exact commit, not the working tree', async () => {
    writeFileSync(join(dir, '.drone.yml'), 'uncommitted\n');
    expect(await scm.fetchConfig(repo(), '.drone.yml', first)).toBe('kind: pipeline\nname: one\n');
    expect(await scm.fetchConfig({ ...repo(), httpUrl: dir }, '.drone.yml', second)).toBe('kind: pipeline\nname: two\n');
  });

  it('answers null for a missing file and fails clearly for an unknown commit', async () => {
    expect(await scm.fetchConfig(repo(), 'ci/missing.yml', first)).toBeNull();
    await expect(scm.fetchConfig(repo(), '.drone.yml', 'f'.repeat(40))).rejects.toThrow(/^local-git: cannot read \.drone\.yml at ffffffffffff/);
    await expect(scm.fetchConfig(repo(), '.drone.yml', 'HEAD; rm -rf /')).rejects.toThrow(/is not a commit id/);
  });

  it('hands statuses of local repositories to the local observer', async () => {
    const seen: string[] = [];
    const local = createScmAccess({ credentials: async () => ({}), onLocalStatus: (_r, sha, s) => seen.push(`${sha}:${s.state}`) });
    await local.postStatus(repo(), first, { state: 'success', context: 'c', description: '' });
    expect(seen).toEqual([`${first}:success`]);
  });
});
