import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  buildEnvironment,
  calverEnvironment,
  semverEnvironment,
  shellExports,
  statusEnvironment,
  stepEnvironment,
  type StageEnvInput,
} from '../../core/pipeline/environment.js';
import { helloWorldContext } from '../support/build-context.js';

const stage: StageEnvInput = {
  name: 'default',
  number: 1,
  kind: 'pipeline',
  type: 'docker',
  os: 'linux',
  arch: 'amd64',
  dependsOn: [],
  workspace: '/drone/src',
};

const pushCtx = helloWorldContext({
  repo: { sshUrl: 'git@github.com:octocat/hello-world.git', private: true, visibility: 'private' },
  commit: {
    sha: '7fd1a60b01f91b314f59955a4e4d4e80d8edf11d',
    before: '553c2077f0edc3d5dc5d17262f6aa498e69d6f8e',
    message: 'Update README.md',
    link: 'https://github.com/octocat/hello-world/commit/7fd1a60',
    author: { email: 'octocat@example.com', avatar: 'https://example.com/a.png' },
  },
  build: { number: 42, link: 'https://ci.example.com/octocat/hello-world/42' },
});

describe('buildEnvironment', () => {
  it('push', () => {
    const env = buildEnvironment(pushCtx, { ...stage, dependsOn: ['lint', 'unit'] });
    expect(env).toMatchObject({
      CI: 'true',
      DRONE: 'true',
      DRONE_BRANCH: 'main',
      DRONE_SOURCE_BRANCH: 'main',
      DRONE_TARGET_BRANCH: 'main',
      DRONE_COMMIT: pushCtx.commit.sha,
      DRONE_COMMIT_SHA: pushCtx.commit.sha,
      DRONE_COMMIT_AFTER: pushCtx.commit.sha,
      DRONE_COMMIT_BEFORE: '553c2077f0edc3d5dc5d17262f6aa498e69d6f8e',
      DRONE_COMMIT_REF: 'refs/heads/main',
      DRONE_COMMIT_BRANCH: 'main',
      DRONE_COMMIT_MESSAGE: 'Update README.md',
      DRONE_COMMIT_LINK: 'https://github.com/octocat/hello-world/commit/7fd1a60',
      DRONE_COMMIT_AUTHOR: 'octocat',
      DRONE_COMMIT_AUTHOR_NAME: 'The Octocat',
      DRONE_COMMIT_AUTHOR_EMAIL: 'octocat@example.com',
      DRONE_COMMIT_AUTHOR_AVATAR: 'https://example.com/a.png',
      DRONE_BUILD_NUMBER: '42',
      DRONE_BUILD_PARENT: '0',
      DRONE_BUILD_EVENT: 'push',
      DRONE_BUILD_ACTION: '',
      DRONE_BUILD_STATUS: 'success',
      DRONE_BUILD_CREATED: '1700000000',
      DRONE_BUILD_STARTED: '1700000000',
      DRONE_BUILD_TRIGGER: '@hook',
      DRONE_BUILD_LINK: 'https://ci.example.com/octocat/hello-world/42',
      DRONE_REPO: 'octocat/hello-world',
      DRONE_REPO_OWNER: 'octocat',
      DRONE_REPO_NAMESPACE: 'octocat',
      DRONE_REPO_NAME: 'hello-world',
      DRONE_REPO_LINK: 'https://github.com/octocat/hello-world',
      DRONE_REPO_BRANCH: 'main',
      DRONE_REPO_PRIVATE: 'true',
      DRONE_REPO_VISIBILITY: 'private',
      DRONE_REMOTE_URL: 'https://github.com/octocat/hello-world.git',
      DRONE_GIT_HTTP_URL: 'https://github.com/octocat/hello-world.git',
      DRONE_GIT_SSH_URL: 'git@github.com:octocat/hello-world.git',
      DRONE_STAGE_NAME: 'default',
      DRONE_STAGE_NUMBER: '1',
      DRONE_STAGE_KIND: 'pipeline',
      DRONE_STAGE_TYPE: 'docker',
      DRONE_STAGE_OS: 'linux',
      DRONE_STAGE_ARCH: 'amd64',
      DRONE_STAGE_STATUS: 'success',
      DRONE_STAGE_DEPENDS_ON: 'lint,unit',
      DRONE_SYSTEM_HOST: 'ci.example.com',
      DRONE_SYSTEM_HOSTNAME: 'ci.example.com',
      DRONE_SYSTEM_PROTO: 'https',
      DRONE_SYSTEM_VERSION: '0.1.0',
      DRONE_WORKSPACE: '/drone/src',
      DRONE_WORKSPACE_BASE: '/drone/src',
      DRONE_WORKSPACE_PATH: '',
      DRONE_DEPLOY_TO: '',
      CI_REPO: 'octocat/hello-world',
      CI_REPO_NAME: 'octocat/hello-world',
      CI_BUILD_NUMBER: '42',
      CI_BUILD_STATUS: 'running',
      CI_COMMIT_SHA: pushCtx.commit.sha,
      CI_COMMIT_BRANCH: 'main',
      CI_COMMIT_REF: 'refs/heads/main',
      GIT_AUTHOR_NAME: 'The Octocat',
      GIT_COMMITTER_EMAIL: 'octocat@example.com',
      GIT_TERMINAL_PROMPT: '0',
    });
    for (const absent of ['DRONE_TAG', 'DRONE_PULL_REQUEST', 'DRONE_SEMVER', 'DRONE_CRON', 'DRONE_FAILED_STEPS', 'GIT_SSL_NO_VERIFY']) {
      expect(env).not.toHaveProperty(absent);
    }
    // Pure: the same input yields the same output.
    expect(buildEnvironment(pushCtx, { ...stage, dependsOn: ['lint', 'unit'] })).toEqual(env);
  });

  it('pull request from a fork', () => {
    const env = buildEnvironment(
      {
        ...pushCtx,
        commit: { ...pushCtx.commit, ref: 'refs/pull/7/head', branch: 'patch-1' },
        build: { ...pushCtx.build, event: 'pull_request', action: 'synchronized' },
        pullRequest: { number: 7, title: 'Fix typo', sourceBranch: 'patch-1', targetBranch: 'main', fork: true },
      },
      stage,
    );
    expect(env).toMatchObject({
      DRONE_BUILD_EVENT: 'pull_request',
      DRONE_BUILD_ACTION: 'synchronized',
      DRONE_BRANCH: 'main',
      DRONE_TARGET_BRANCH: 'main',
      DRONE_COMMIT_BRANCH: 'main',
      DRONE_SOURCE_BRANCH: 'patch-1',
      DRONE_PULL_REQUEST: '7',
      DRONE_PULL_REQUEST_TITLE: 'Fix typo',
      DRONE_COMMIT_REF: 'refs/pull/7/head',
    });
  });

  it('pull request number falls back to the context when the ref has none', () => {
    const env = buildEnvironment(
      {
        ...pushCtx,
        commit: { ...pushCtx.commit, ref: 'refs/heads/patch' },
        build: { ...pushCtx.build, event: 'pull_request', action: 'opened' },
        pullRequest: { number: 12, title: 't', sourceBranch: 'patch', targetBranch: 'main', fork: false },
      },
      stage,
    );
    expect(env.DRONE_PULL_REQUEST).toBe('12');
  });

  it('tag with a semantic version', () => {
    const env = buildEnvironment(
      {
        ...pushCtx,
        commit: { ...pushCtx.commit, ref: 'refs/tags/v1.2.3-rc.1+build.5', branch: '' },
        build: { ...pushCtx.build, event: 'tag', action: 'created' },
        tag: 'v1.2.3-rc.1+build.5',
      },
      stage,
    );
    expect(env).toMatchObject({
      DRONE_TAG: 'v1.2.3-rc.1+build.5',
      DRONE_SEMVER: '1.2.3-rc.1+build.5',
      DRONE_SEMVER_MAJOR: '1',
      DRONE_SEMVER_MINOR: '2',
      DRONE_SEMVER_PATCH: '3',
      DRONE_SEMVER_PRERELEASE: 'rc.1',
      DRONE_SEMVER_BUILD: 'build.5',
      DRONE_SEMVER_SHORT: '1.2.3',
      DRONE_BRANCH: '',
      DRONE_COMMIT_REF: 'refs/tags/v1.2.3-rc.1+build.5',
    });
    expect(env).not.toHaveProperty('DRONE_SEMVER_ERROR');
    expect(env).not.toHaveProperty('DRONE_CALVER');
  });

  it('tag that is not a version reports the parse error as Drone does', () => {
    const env = buildEnvironment(
      { ...pushCtx, commit: { ...pushCtx.commit, ref: 'refs/tags/release' }, build: { ...pushCtx.build, event: 'tag' } },
      stage,
    );
    expect(env.DRONE_TAG).toBe('release');
    expect(env.DRONE_SEMVER_ERROR).toBe('release is not in dotted-tri format');
    expect(env).not.toHaveProperty('DRONE_SEMVER');
  });

  it('cron', () => {
    const env = buildEnvironment(
      { ...pushCtx, build: { ...pushCtx.build, event: 'cron', cron: 'nightly', trigger: '@cron' } },
      stage,
    );
    expect(env).toMatchObject({ DRONE_BUILD_EVENT: 'cron', DRONE_CRON: 'nightly', DRONE_BUILD_TRIGGER: '@cron' });
  });

  it('promote', () => {
    const env = buildEnvironment(
      { ...pushCtx, build: { ...pushCtx.build, event: 'promote', target: 'production', parent: 41, trigger: 'octocat' } },
      stage,
    );
    expect(env).toMatchObject({
      DRONE_BUILD_EVENT: 'promote',
      DRONE_DEPLOY_TO: 'production',
      CI_BUILD_TARGET: 'production',
      DRONE_BUILD_PARENT: '41',
      CI_PARENT_BUILD_NUMBER: '41',
      DRONE_BUILD_TRIGGER: 'octocat',
    });
  });

  it('build link falls back to proto://host/slug/number', () => {
    const env = buildEnvironment({ ...pushCtx, build: { ...pushCtx.build, link: '' } }, stage);
    expect(env.DRONE_BUILD_LINK).toBe('https://ci.example.com/octocat/hello-world/42');
  });

  it('workspace paths follow Drone: absolute is the base, relative lives under /drone/src', () => {
    expect(buildEnvironment(pushCtx, { ...stage, workspace: '/go/src/github.com/octocat/hello-world' })).toMatchObject({
      DRONE_WORKSPACE: '/go/src/github.com/octocat/hello-world',
      DRONE_WORKSPACE_BASE: '/go/src/github.com/octocat/hello-world',
      DRONE_WORKSPACE_PATH: '',
    });
    expect(buildEnvironment(pushCtx, { ...stage, workspace: 'app' })).toMatchObject({
      DRONE_WORKSPACE: '/drone/src/app',
      DRONE_WORKSPACE_BASE: '/drone/src',
      DRONE_WORKSPACE_PATH: 'app',
    });
  });

  it('a build with failed stages starts as failing; skip_verify reaches git', () => {
    const env = buildEnvironment(pushCtx, { ...stage, failedStages: ['build'], skipVerify: true });
    expect(env).toMatchObject({
      DRONE_BUILD_STATUS: 'failure',
      DRONE_FAILED_STAGES: 'build',
      DRONE_STAGE_STATUS: 'success',
      CI_BUILD_STATUS: 'failure',
      GIT_SSL_NO_VERIFY: 'true',
    });
  });
});

describe('stepEnvironment and statusEnvironment', () => {
  it('names the step', () => {
    expect(stepEnvironment({ name: 'test', number: 3 })).toEqual({ DRONE_STEP_NAME: 'test', DRONE_STEP_NUMBER: '3' });
  });
  it('reports failures so far', () => {
    expect(statusEnvironment({ failedStages: [], failedSteps: [] })).toEqual({
      DRONE_BUILD_STATUS: 'success',
      DRONE_STAGE_STATUS: 'success',
      CI_BUILD_STATUS: 'running',
    });
    expect(statusEnvironment({ failedStages: [], failedSteps: ['test', 'lint'] })).toEqual({
      DRONE_BUILD_STATUS: 'failure',
      DRONE_STAGE_STATUS: 'failure',
      CI_BUILD_STATUS: 'failure',
      DRONE_FAILED_STAGES: '',
      DRONE_FAILED_STEPS: 'test,lint',
    });
  });
});

describe('semverEnvironment (coreos/go-semver as Drone uses it)', () => {
  it('v1.2.3-alpha+001 (Drone test)', () => {
    expect(semverEnvironment('v1.2.3-alpha+001')).toEqual({
      DRONE_SEMVER: '1.2.3-alpha+001',
      DRONE_SEMVER_MAJOR: '1',
      DRONE_SEMVER_MINOR: '2',
      DRONE_SEMVER_PATCH: '3',
      DRONE_SEMVER_SHORT: '1.2.3',
      DRONE_SEMVER_PRERELEASE: 'alpha',
      DRONE_SEMVER_BUILD: '001',
    });
  });
  const errors: Array<[string, string]> = [
    ['this is an invalid version', 'this is an invalid version is not in dotted-tri format'],
    ['v1.2', '1.2 is not in dotted-tri format'],
    ['1.2.3-rc_1', 'failed to validate pre-release: rc_1 is not a valid semver identifier'],
    ['1.2.3+a..b', 'failed to validate metadata: a..b is not a valid semver identifier'],
    ['1.2.x', 'strconv.ParseInt: parsing "x": invalid syntax'],
    ['1.2.3.4', 'strconv.ParseInt: parsing "3.4": invalid syntax'],
    ['1.99999999999999999999.0', 'strconv.ParseInt: parsing "99999999999999999999": value out of range'],
  ];
  it.each(errors)('%j → error %j', (tag, message) => {
    expect(semverEnvironment(tag)).toEqual({ DRONE_SEMVER_ERROR: message });
  });
  it('normalises numbers like Go (leading zeros) and omits empty parts', () => {
    expect(semverEnvironment('v01.02.003')).toEqual({
      DRONE_SEMVER: '1.2.3',
      DRONE_SEMVER_MAJOR: '1',
      DRONE_SEMVER_MINOR: '2',
      DRONE_SEMVER_PATCH: '3',
      DRONE_SEMVER_SHORT: '1.2.3',
    });
  });
});

describe('calverEnvironment', () => {
  it('year-based tags', () => {
    expect(calverEnvironment('v2024.05.1-hotfix')).toEqual({
      DRONE_CALVER: '2024.05.1-hotfix',
      DRONE_CALVER_MAJOR_MINOR: '2024.05',
      DRONE_CALVER_MAJOR: '2024',
      DRONE_CALVER_MINOR: '05',
      DRONE_CALVER_MICRO: '1',
      DRONE_CALVER_MODIFIER: 'hotfix',
      DRONE_CALVER_SHORT: '2024.05.1',
    });
    expect(calverEnvironment('24.10')).toMatchObject({ DRONE_CALVER: '24.10', DRONE_CALVER_MICRO: '' });
  });
  it('not a year, or not numbers: nothing', () => {
    expect(calverEnvironment('v1.2.3')).toEqual({});
    expect(calverEnvironment('release')).toEqual({});
    expect(calverEnvironment('2024.x.1')).toEqual({});
  });
});

describe('shellExports', () => {
  it('sorts and single-quotes', () => {
    expect(shellExports({ B: 'two', A: "it's" })).toBe("export A='it'\\''s'\nexport B='two'\n");
  });

  it('rejects names a shell cannot hold and NUL characters', () => {
    expect(() => shellExports({ 'PLUGIN_FOO-BAR': 'x' })).toThrow(/cannot export "PLUGIN_FOO-BAR"/);
    expect(() => shellExports({ '1A': 'x' })).toThrow(/cannot export/);
    expect(() => shellExports({ A: 'a\0b' })).toThrow(/NUL/);
  });

  it('round-trips through /bin/sh exactly', () => {
    const env: Record<string, string> = {
      QUOTES: `it's "quoted" ''`,
      DOLLAR: '$HOME ${PATH} $(id) `id`',
      NEWLINES: 'line one\nline two\n\n',
      BACKSLASH: 'a\\b\\\\c\\n',
      EMPTY: '',
      SPACES: '  leading and trailing  ',
      GLOB: '* ? [a] ~',
      UNICODE: 'héllo ☺ 𝄞',
      SEMI: 'a; exit 3 & | > /dev/null',
      CR_TAB: '\r\t',
    };
    const script = `${shellExports(env)}
for n in ${Object.keys(env).join(' ')}; do
  eval "v=\\$$n"
  printf '%s=%s\\0' "$n" "$v"
done
`;
    const out = execFileSync('/bin/sh', ['-c', script], { encoding: 'utf8', env: {} });
    const back: Record<string, string> = {};
    for (const entry of out.split('\0').filter((e) => e !== '')) {
      const i = entry.indexOf('=');
      back[entry.slice(0, i)] = entry.slice(i + 1);
    }
    expect(back).toEqual(env);
  });

  it('round-trips a whole build environment', () => {
    const env = buildEnvironment(
      { ...pushCtx, commit: { ...pushCtx.commit, message: "Merge 'x'\n\nBody with $VAR and `cmd`" } },
      stage,
    );
    const out = execFileSync('/bin/sh', ['-c', `${shellExports(env)}\nprintf '%s' "$DRONE_COMMIT_MESSAGE"`], {
      encoding: 'utf8',
      env: {},
    });
    expect(out).toBe(env.DRONE_COMMIT_MESSAGE);
  });
});
