import { describe, expect, it } from 'vitest';
import { globMatch } from '../../core/pipeline/glob.js';
import {
  conditionInput,
  conditionMatches,
  conditionsMatch,
  skipReason,
  statusMatches,
  type ConditionInput,
} from '../../core/pipeline/conditions.js';
import { helloWorldContext } from '../support/build-context.js';
import type { Condition, ConditionField, Conditions } from '../../core/pipeline/types.js';

const none = (): Condition => ({ include: [], exclude: [] });
const inc = (...include: string[]): Condition => ({ include, exclude: [] });
const exc = (...exclude: string[]): Condition => ({ include: [], exclude });

function conds(partial: Partial<Conditions>): Conditions {
  return {
    action: none(),
    branch: none(),
    cron: none(),
    event: none(),
    instance: none(),
    paths: none(),
    ref: none(),
    repo: none(),
    status: none(),
    target: none(),
    ...partial,
  };
}

const push: ConditionInput = {
  action: '',
  branch: 'main',
  cron: '',
  event: 'push',
  instance: 'ci.example.com',
  ref: 'refs/heads/main',
  repo: 'octocat/hello-world',
  target: '',
};

describe('globMatch (doublestar v1.1.1, as Drone uses it)', () => {
  // [pattern, name, matches] — the library's own table; bad patterns never match.
  const table: Array<[string, string, boolean]> = [
    ['abc', 'abc', true],
    ['*', 'abc', true],
    ['*c', 'abc', true],
    ['a*', 'a', true],
    ['a*', 'abc', true],
    ['a*', 'ab/c', false],
    ['a*/b', 'abc/b', true],
    ['a*/b', 'a/c/b', false],
    ['a*b*c*d*e*/f', 'axbxcxdxe/f', true],
    ['a*b*c*d*e*/f', 'axbxcxdxexxx/f', true],
    ['a*b*c*d*e*/f', 'axbxcxdxe/xxx/f', false],
    ['a*b*c*d*e*/f', 'axbxcxdxexxx/fff', false],
    ['a*b?c*x', 'abxbbxdbxebxczzx', true],
    ['a*b?c*x', 'abxbbxdbxebxczzy', false],
    ['ab[c]', 'abc', true],
    ['ab[b-d]', 'abc', true],
    ['ab[e-g]', 'abc', false],
    ['ab[^c]', 'abc', false],
    ['ab[^b-d]', 'abc', false],
    ['ab[^e-g]', 'abc', true],
    ['a\\*b', 'ab', false],
    ['a\\*b', 'a*b', true],
    ['a?b', 'a☺b', true],
    ['a[^a]b', 'a☺b', true],
    ['a???b', 'a☺b', false],
    ['[a-ζ]*', 'α', true],
    ['*[a-ζ]', 'A', false],
    ['a?b', 'a/b', false],
    ['a*b', 'a/b', false],
    ['[\\]a]', ']', true],
    ['[\\-]', '-', true],
    ['[x\\-]', 'x', true],
    ['[x\\-]', '-', true],
    ['[x\\-]', 'z', false],
    ['[]a]', ']', false],
    ['[-]', '-', false],
    ['[x-]', 'x', false],
    ['\\', 'a', false],
    ['[a-b-c]', 'a', false],
    ['[', 'a', false],
    ['a[', 'a', false],
    ['a[', 'ab', false],
    ['*x', 'xxx', true],
    ['a/**', 'a', false],
    ['a/**', 'a/b', true],
    ['a/**', 'a/b/c', true],
    ['**/c', 'c', true],
    ['**/c', 'b/c', true],
    ['**/c', 'a/b/c', true],
    ['**/c', 'a/b', false],
    ['**/c', 'abcd', false],
    ['**/c', 'a/abc', false],
    ['a/**/b', 'a/b', true],
    ['a/**/c', 'a/b/c', true],
    ['a/**/d', 'a/b/c/d', true],
    ['a/\\**', 'a/b/c', false],
    ['ab{c,d}', 'abc', true],
    ['ab{c,d,*}', 'abcde', true],
    ['ab{c,d}[', 'abcd', false],
    ['abc/**', 'abc/b', true],
    ['**/abc', 'abc', true],
    ['abc**', 'abc/b', false],
    // Literals: a trailing separator is dropped when splitting, on either side.
    ['main', 'main', true],
    ['main', 'mainline', false],
    ['a/', 'a', true],
    ['', '', true],
    ['*', '', true],
    ['?', '', false],
    // Alternatives stay within one component in this version.
    ['{docs/**,README.md}', 'README.md', false],
    ['{docs/**,README.md}', 'docs/a.md', false],
    ['{docs,src}/**', 'src/a/b.ts', true],
  ];
  it.each(table)('%j vs %j → %s', (pattern, name, want) => {
    expect(globMatch(pattern, name)).toBe(want);
  });
});

describe('conditionMatches: include / exclude', () => {
  // drone-yaml's own TestConstraintMatch table.
  const table: Array<[Condition, string, boolean]> = [
    [inc('master'), 'develop', false],
    [inc('master'), 'master', true],
    [inc('feature/*'), 'feature/foo', true],
    [inc('master', 'feature/*'), 'develop', false],
    [inc('master', 'feature/*'), 'master', true],
    [inc('master', 'feature/*'), 'feature/foo', true],
    [inc('feature/*'), 'master', false],
    [exc('master'), 'develop', true],
    [exc('master'), 'master', false],
    [exc('feature/*'), 'master', true],
    [exc('feature/*'), 'feature/foo', false],
    [exc('master', 'develop'), 'master', false],
    [exc('feature/*', 'bar'), 'master', true],
    [exc('feature/*', 'bar'), 'feature/foo', false],
    [{ include: ['master', 'feature/*'], exclude: ['develop'] }, 'master', true],
    [{ include: ['master', 'feature/*'], exclude: ['feature/bar'] }, 'feature/bar', false],
    // exclude wins over include
    [{ include: ['master', 'feature/*'], exclude: ['master', 'develop'] }, 'master', false],
    [none(), 'master', true],
    [none(), '', true],
    [inc('foo/**'), 'foo/bar/baz/qux', true],
    [inc('foo/**/qux'), 'foo/bar/baz/qux', true],
    // `*` does not cross `/`
    [inc('feature/*'), 'feature/a/b', false],
    [inc('feature/**'), 'feature/a/b', true],
    // an empty value only matches patterns that accept it
    [inc('production'), '', false],
    [exc('production'), '', true],
  ];
  it.each(table)('%j with %j → %s', (condition, value, want) => {
    expect(conditionMatches(condition, value, 'branch')).toBe(want);
  });
});

describe('conditionsMatch: each field', () => {
  const table: Array<[string, Partial<Conditions>, Partial<ConditionInput>, boolean]> = [
    ['no conditions', {}, {}, true],
    ['branch included', { branch: inc('main') }, {}, true],
    ['branch not included', { branch: inc('dev') }, {}, false],
    ['branch glob', { branch: inc('release/*') }, { branch: 'release/1.0' }, true],
    ['branch glob does not cross /', { branch: inc('release/*') }, { branch: 'release/1.0/hotfix' }, false],
    ['branch excluded', { branch: exc('main') }, {}, false],
    ['event included', { event: inc('push', 'tag') }, {}, true],
    ['event not included', { event: inc('pull_request') }, {}, false],
    ['event excluded', { event: exc('push') }, {}, false],
    ['event custom', { event: inc('custom') }, { event: 'custom' }, true],
    ['action included', { action: inc('opened', 'synchronized') }, { event: 'pull_request', action: 'synchronized' }, true],
    ['action not included', { action: inc('opened') }, { event: 'pull_request', action: 'closed' }, false],
    ['action excluded', { action: exc('closed') }, { event: 'pull_request', action: 'closed' }, false],
    ['action empty on push vs include', { action: inc('opened') }, {}, false],
    ['ref glob', { ref: inc('refs/heads/*') }, {}, true],
    ['ref tags glob', { ref: inc('refs/tags/*') }, { event: 'tag', ref: 'refs/tags/v1.2.3', branch: '' }, true],
    ['ref tags glob does not cross /', { ref: inc('refs/tags/*') }, { ref: 'refs/tags/release/v1' }, false],
    ['ref tags doublestar', { ref: inc('refs/tags/**') }, { ref: 'refs/tags/release/v1' }, true],
    ['ref tags on a branch push', { ref: inc('refs/tags/*') }, {}, false],
    ['repo included', { repo: inc('octocat/*') }, {}, true],
    ['repo not included', { repo: inc('acme/*') }, {}, false],
    ['repo excluded (fork)', { repo: exc('*/hello-world') }, {}, false],
    ['target included', { target: inc('production') }, { event: 'promote', target: 'production' }, true],
    ['target not included', { target: inc('production') }, { event: 'promote', target: 'staging' }, false],
    ['target empty vs include', { target: inc('production') }, {}, false],
    ['target glob', { target: inc('prod-*') }, { event: 'rollback', target: 'prod-eu' }, true],
    ['cron included', { cron: inc('nightly') }, { event: 'cron', cron: 'nightly' }, true],
    ['cron not included', { cron: inc('nightly') }, { event: 'cron', cron: 'hourly' }, false],
    ['cron excluded', { cron: exc('hourly') }, { event: 'cron', cron: 'hourly' }, false],
    ['instance included', { instance: inc('ci.example.com') }, {}, true],
    ['instance glob', { instance: inc('*.example.com') }, {}, true],
    ['instance not included', { instance: inc('ci.other.org') }, {}, false],
    ['paths unknown → match', { paths: inc('docs/**') }, {}, true],
    ['paths empty list → match', { paths: inc('docs/**') }, { paths: [] }, true],
    ['paths include hit', { paths: inc('docs/**') }, { paths: ['src/a.ts', 'docs/guide/x.md'] }, true],
    ['paths include miss', { paths: inc('docs/**') }, { paths: ['src/a.ts'] }, false],
    ['paths ** leading', { paths: inc('**/*.go') }, { paths: ['main.go'] }, true],
    ['paths ** nested', { paths: inc('**/*.go') }, { paths: ['cmd/x/main.go'] }, true],
    ['paths * does not cross /', { paths: inc('*.md') }, { paths: ['docs/a.md'] }, false],
    ['paths exclude all', { paths: exc('*.md') }, { paths: ['README.md', 'CHANGES.md'] }, false],
    ['paths exclude some', { paths: exc('*.md') }, { paths: ['README.md', 'main.go'] }, true],
    [
      'paths include minus exclude',
      { paths: { include: ['src/**'], exclude: ['src/**/*.test.ts'] } },
      { paths: ['src/a.test.ts'] },
      false,
    ],
    ['paths brace', { paths: inc('{src,lib}/**') }, { paths: ['lib/x.ts'] }, true],
    ['status ignored here', { status: inc('failure') }, {}, true],
    ['all fields together', { branch: inc('main'), event: inc('push'), repo: inc('octocat/*') }, {}, true],
    ['one failing field fails all', { branch: inc('main'), event: inc('tag') }, {}, false],
  ];
  it.each(table)('%s', (_name, partial, input, want) => {
    expect(conditionsMatch(conds(partial), { ...push, ...input })).toBe(want);
  });
});

describe('statusMatches', () => {
  const table: Array<[string, Condition, boolean, boolean]> = [
    // [name, status, runs on success, runs on failure]
    ['no status', none(), true, false],
    ['[success]', inc('success'), true, false],
    ['[failure]', inc('failure'), false, true],
    ['[success, failure]', inc('success', 'failure'), true, true],
    ['[*]', inc('*'), true, true],
    ['exclude success', exc('success'), false, true],
    ['exclude failure', exc('failure'), true, false],
    ['unknown word runs on success (Drone)', inc('changed'), true, false],
  ];
  it.each(table)('%s', (_name, status, onSuccess, onFailure) => {
    expect(statusMatches(status, 'success')).toBe(onSuccess);
    expect(statusMatches(status, 'failure')).toBe(onFailure);
  });
});

describe('skipReason', () => {
  it('is undefined when everything matches', () => {
    expect(skipReason(conds({ branch: inc('main') }), push)).toBeUndefined();
  });
  it('names the field, the value and the patterns', () => {
    expect(skipReason(conds({ branch: inc('main') }), { ...push, branch: 'dev' })).toBe(
      'branch "dev" is not included in [main]',
    );
    expect(skipReason(conds({ event: exc('push', 'tag') }), push)).toBe('event "push" is excluded by [push, tag]');
    expect(skipReason(conds({ target: inc('production') }), push)).toBe(
      'deploy target (empty) is not included in [production]',
    );
  });
  it('reports the first failing field in Drone order', () => {
    const c = conds({ event: inc('tag'), branch: inc('dev') });
    expect(skipReason(c, push)).toBe('branch "main" is not included in [dev]');
  });
  it('explains paths', () => {
    expect(skipReason(conds({ paths: inc('docs/**') }), { ...push, paths: ['src/a.ts'] })).toBe(
      'the changed file "src/a.ts" does not match paths [docs/**]',
    );
    expect(skipReason(conds({ paths: exc('*.md') }), { ...push, paths: ['A.md', 'B.md'] })).toBe(
      'all 2 changed files are excluded by paths [*.md]',
    );
  });
  it('agrees with conditionsMatch', () => {
    const fields: ConditionField[] = ['branch', 'event', 'ref', 'repo', 'target', 'cron', 'action', 'instance'];
    for (const field of fields) {
      for (const c of [inc('main'), exc('main'), inc('*'), exc('*'), none()]) {
        const all = conds({ [field]: c });
        expect(skipReason(all, push) === undefined).toBe(conditionsMatch(all, push));
      }
    }
  });
});

describe('conditionInput', () => {
  const base = helloWorldContext();

  it('push: branch and ref from the commit, paths unknown', () => {
    const input = conditionInput(base);
    // The same input the condition tables above start from.
    expect(input).toEqual(push);
    expect('paths' in input).toBe(false);
  });

  it('pull request: the branch matched is the target branch', () => {
    const input = conditionInput({
      ...base,
      commit: { ...base.commit, ref: 'refs/pull/7/head', branch: 'feature/x' },
      build: { ...base.build, event: 'pull_request', action: 'opened' },
      pullRequest: { number: 7, title: 't', sourceBranch: 'feature/x', targetBranch: 'main', fork: true },
      changedFiles: ['src/a.ts'],
    });
    expect(input.branch).toBe('main');
    expect(input.ref).toBe('refs/pull/7/head');
    expect(input.action).toBe('opened');
    expect(input.paths).toEqual(['src/a.ts']);
    expect(conditionsMatch(conds({ branch: inc('main'), event: inc('pull_request') }), input)).toBe(true);
    expect(conditionsMatch(conds({ branch: inc('feature/*') }), input)).toBe(false);
  });

  it('tag: ref is refs/tags/<tag>; a branch condition does not match an empty branch', () => {
    const input = conditionInput({
      ...base,
      commit: { ...base.commit, ref: '', branch: '' },
      build: { ...base.build, event: 'tag' },
      tag: 'v1.2.3',
    });
    expect(input.ref).toBe('refs/tags/v1.2.3');
    expect(input.branch).toBe('');
    expect(conditionsMatch(conds({ ref: inc('refs/tags/*') }), input)).toBe(true);
    expect(conditionsMatch(conds({ branch: inc('main') }), input)).toBe(false);
  });

  it('promote and cron carry target and cron name', () => {
    const promote = conditionInput({ ...base, build: { ...base.build, event: 'promote', target: 'production' } });
    expect(promote.target).toBe('production');
    const cron = conditionInput({ ...base, build: { ...base.build, event: 'cron', cron: 'nightly' } });
    expect(cron.cron).toBe('nightly');
    expect(conditionsMatch(conds({ event: inc('cron'), cron: inc('nightly') }), cron)).toBe(true);
  });
});

describe('globMatch on hostile or random input', () => {
  it('stays fast on patterns that make naive backtracking exponential', () => {
    const name = 'a'.repeat(200);
    expect(globMatch('*a*a*a*a*a*a*a*a*a*a*a*a*b', name)).toBe(false);
    expect(globMatch('*a*a*a*a*a*a*a*a*a*a*a*a*', name)).toBe(true);
    const deep = Array.from({ length: 60 }, () => 'x').join('/');
    expect(globMatch('**/**/**/**/**/**/**/**/**/**/y', deep)).toBe(false);
    expect(globMatch('**/**/**/**/**/**/**/**/**/**/x', deep)).toBe(true);
  });

  it('never throws, and a literal without separators matches only itself', async () => {
    const fc = await import('fast-check');
    const alphabet = fc.constantFrom('a', 'b', '/', '*', '?', '[', ']', '{', '}', ',', '\\', '-', '^', '☺');
    const text = fc.array(alphabet, { maxLength: 12 }).map((cs) => cs.join(''));
    fc.assert(
      fc.property(text, text, (pattern, name) => {
        const result = globMatch(pattern, name);
        expect(typeof result).toBe('boolean');
        if (!/[*?[{\\/]/.test(pattern) && !name.includes('/')) expect(result).toBe(pattern === name);
      }),
      { numRuns: 3000 },
    );
  });
});
