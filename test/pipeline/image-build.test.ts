// Image build steps (core/pipeline/image-build.ts): the tags auto_tag gives, and the builder
// script run under busybox sh against a stand-in executor that prints the flags it gets.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliContext, CLI_COMPILE_OPTIONS } from '../../cli/commands/compile.js';
import { autoTags } from '../../core/pipeline/auto-tags.js';
import { compileManifest } from '../../core/pipeline/compile.js';
import { loadManifest } from '../../core/pipeline/load.js';
import { IMAGE_BUILD_SCRIPT } from '../../core/pipeline/image-build-script.js';
import { skipWithout } from '../support/required-tool.js';

const BUSYBOX = ['/usr/bin/busybox', '/bin/busybox'].find((path) => existsSync(path));

// drone-plugins/drone-docker tags_test.go (TestDefaultTags, TestDefaultTagSuffix, TestDefaultTagsError)
// and cmd/drone-docker/main.go (UseDefaultTag: a tag, or the default branch; otherwise no build).
describe('auto_tag: the tags drone-docker derives from the ref', () => {
  it.each([
    ['refs/heads/main', '', { kind: 'tags', tags: ['latest'] }],
    ['refs/tags/0.9.0', '', { kind: 'tags', tags: ['0.9', '0.9.0'] }],
    ['refs/tags/1.0.0', '', { kind: 'tags', tags: ['1', '1.0', '1.0.0'] }],
    ['refs/tags/v1.0.0', '', { kind: 'tags', tags: ['1', '1.0', '1.0.0'] }],
    ['refs/tags/v1.0.0-alpha.1', '', { kind: 'tags', tags: ['1.0.0-alpha.1'] }],
    ['refs/tags/v1.2.3+build.7', '', { kind: 'tags', tags: ['1.2.3+build.7'] }],
    ['refs/heads/main', 'linux-amd64', { kind: 'tags', tags: ['linux-amd64'] }],
    ['refs/tags/v1.0.0', 'linux-amd64', { kind: 'tags', tags: ['1-linux-amd64', '1.0-linux-amd64', '1.0.0-linux-amd64'] }],
    ['refs/tags/v18.06.0', 'nanoserver', { kind: 'tags', tags: ['18-nanoserver', '18.06-nanoserver', '18.06.0-nanoserver'] }],
  ] as const)('%s (suffix %j)', (ref, suffix, expected) => {
    expect(autoTags(ref, 'main', suffix)).toEqual(expected);
  });

  it.each(['refs/tags/x1.0.0', 'refs/tags/20190203', 'refs/tags/1.2', 'refs/tags/1.2.3.4'])('%s is not a semantic version: the step fails, as the plugin does', (ref) => {
    const result = autoTags(ref, 'main', '');
    expect(result.kind).toBe('error');
    expect(result).toMatchObject({ message: expect.stringContaining('is not a semantic version') });
  });

  it('builds nothing for a branch other than the default one (the plugin skips)', () => {
    expect(autoTags('refs/heads/feature', 'main', '')).toMatchObject({ kind: 'skip', reason: expect.stringContaining('neither a tag nor the default branch') });
    expect(autoTags('refs/pull/7/head', 'main', '')).toMatchObject({ kind: 'skip' });
  });
});

describe.skipIf(skipWithout('busybox', BUSYBOX ? undefined : 'not installed (npm run setup installs it)'))('the builder script (busybox sh, as in the kaniko debug image)', () => {
  const sh = BUSYBOX!;
  const root = mkdtempSync(join(tmpdir(), 'slipway-image-build-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const executor = join(root, 'executor');
  writeFileSync(executor, '#!/bin/sh\nfor a in "$@"; do printf "ARG %s\\n" "$a"; done\n', { mode: 0o755 });
  const script = join(root, 'image-build.sh');
  writeFileSync(script, IMAGE_BUILD_SCRIPT);

  let n = 0;
  const run = (env: Record<string, string>, files: Record<string, string> = { Dockerfile: 'FROM scratch\n' }) => {
    const ws = join(root, `ws${++n}`);
    mkdirSync(ws);
    for (const [name, text] of Object.entries(files)) writeFileSync(join(ws, name), text);
    const config = join(ws, '.docker');
    const result = spawnSync(sh, ['sh', script], {
      cwd: ws,
      encoding: 'utf8',
      env: { PATH: process.env.PATH!, SLIPWAY_KANIKO_EXECUTOR: executor, DOCKER_CONFIG: config, ...env },
    });
    const args = result.stdout
      .split('\n')
      .filter((l) => l.startsWith('ARG '))
      .map((l) => l.slice(4));
    const flag = (name: string) => args.flatMap((a, i) => (a === name ? [args[i + 1]!] : []));
    const configFile = join(config, 'config.json');
    const configJson: unknown = existsSync(configFile) ? JSON.parse(readFileSync(configFile, 'utf8')) : undefined;
    return { status: result.status, stdout: result.stdout, stderr: result.stderr, args, flag, configJson, ws };
  };

  it('passes the plugin settings as kaniko flags: destinations, build args, target, labels, the cache', () => {
    const r = run({
      PLUGIN_REPO: 'registry.example.com/acme/app',
      PLUGIN_TAGS: 'latest, 1.0',
      PLUGIN_BUILD_ARGS: 'A=1,B=two words',
      PLUGIN_BUILD_ARGS_FROM_ENV: 'FROM_ENV',
      FROM_ENV: 'value',
      PLUGIN_TARGET: 'release',
      PLUGIN_CUSTOM_LABELS: 'team=core',
      PLUGIN_AUTO_LABEL: 'false',
      SLIPWAY_CACHE_REPO: 'registry.example.com/cache/acme/app',
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.flag('--destination')).toEqual(['registry.example.com/acme/app:latest', 'registry.example.com/acme/app:1.0']);
    expect(r.flag('--build-arg')).toEqual(['A=1', 'B=two words', 'FROM_ENV=value']);
    expect(r.flag('--target')).toEqual(['release']);
    expect(r.flag('--label')).toEqual(['team=core']);
    expect(r.flag('--cache-repo')).toEqual(['registry.example.com/cache/acme/app']);
    expect(r.flag('--dockerfile')).toEqual([join(r.ws, 'Dockerfile')]);
    expect(r.args).toContain('--cleanup');
    expect(r.args).not.toContain('--no-push');
  });

  it('tags from auto_tag (per run) win over tags; a skip builds nothing and succeeds; an error fails the step', () => {
    expect(run({ PLUGIN_REPO: 'acme/app', PLUGIN_TAGS: 'x', SLIPWAY_AUTO_TAGS: 'tags:1,1.2,1.2.3' }).flag('--destination')).toEqual(['acme/app:1', 'acme/app:1.2', 'acme/app:1.2.3']);
    const skip = run({ PLUGIN_REPO: 'acme/app', SLIPWAY_AUTO_TAGS: 'skip:auto_tag: skipping the image build for refs/heads/dev' });
    expect(skip.status).toBe(0);
    expect(skip.args).toEqual([]);
    expect(skip.stdout).toContain('skipping the image build for refs/heads/dev');
    const error = run({ PLUGIN_REPO: 'acme/app', SLIPWAY_AUTO_TAGS: 'error:auto_tag: the tag "x1" is not a semantic version' });
    expect(error.status).toBe(1);
    expect(error.stderr).toContain('slipway: image build: auto_tag: the tag "x1" is not a semantic version');
  });

  it('reads .tags when no tags are set (drone-docker FilePath), and tags_file when given', () => {
    expect(run({ PLUGIN_REPO: 'acme/app' }, { Dockerfile: 'FROM scratch\n', '.tags': '1.0,1.0.0\n' }).flag('--destination')).toEqual(['acme/app:1.0', 'acme/app:1.0.0']);
    expect(run({ PLUGIN_REPO: 'acme/app' }).flag('--destination')).toEqual(['acme/app:latest']);
    const missing = run({ PLUGIN_REPO: 'acme/app', PLUGIN_TAGS_FILE: 'nope' });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('settings.tags_file: no file nope');
  });

  it('writes the registry login into the Docker config and never prints the password', () => {
    const r = run({ PLUGIN_REPO: 'acme/app', PLUGIN_USERNAME: 'bob', PLUGIN_PASSWORD: 'hunter2-secret' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.configJson).toEqual({ auths: { 'https://index.docker.io/v1/': { auth: Buffer.from('bob:hunter2-secret').toString('base64') } } });
    expect(r.stdout + r.stderr).not.toContain('hunter2-secret');
  });

  it('plugins/ecr: the repository is put under the account registry of the region, with no keys', () => {
    const r = run({ SLIPWAY_IMAGE_BUILD_KIND: 'ecr', PLUGIN_REPO: 'acme/app', PLUGIN_REGION: 'eu-west-1', SLIPWAY_ECR_ACCOUNT: '123456789012', PLUGIN_TAGS: 'v1' });
    expect(r.flag('--destination')).toEqual(['123456789012.dkr.ecr.eu-west-1.amazonaws.com/acme/app:v1']);
    expect(r.configJson).toBeUndefined();
  });

  it('dry_run builds without pushing; insecure names the registry; a missing Dockerfile is named', () => {
    const r = run({ PLUGIN_REPO: 'localhost:5000/app', PLUGIN_DRY_RUN: 'true', PLUGIN_INSECURE: 'true' });
    expect(r.args).toContain('--no-push');
    expect(r.flag('--insecure-registry')).toEqual(['localhost:5000']);
    const none = run({ PLUGIN_REPO: 'acme/app', PLUGIN_DOCKERFILE: 'docker/Dockerfile.prod' });
    expect(none.status).toBe(1);
    expect(none.stderr).toContain('settings.dockerfile: no file docker/Dockerfile.prod');
  });

  it('names BuildKit-only Dockerfile syntax, with what to do', () => {
    const r = run({ PLUGIN_REPO: 'acme/app' }, { Dockerfile: 'FROM scratch\nRUN --mount=type=cache,target=/root/.cache go build\n' });
    expect(r.stdout).toContain('warning: Dockerfile:2: RUN --mount=type=cache/ssh/secret/tmpfs is BuildKit syntax that kaniko does not honour');
  });

  it('is portable sh (dash reads it too)', () => {
    execFileSync(sh, ['sh', '-n', script]);
    if (existsSync('/usr/bin/dash')) execFileSync('/usr/bin/dash', ['-n', script]);
  });
});

describe('an image build step is counted as the builder step it becomes', () => {
  // The agent, 8 steps and the build step: 10 containers, ECS's limit. As a plugin with a status
  // condition it would have a gate container too (11): it has none, its wrapper decides.
  const steps = Array.from({ length: 8 }, (_, i) => `- name: s${i}\n  image: alpine:3.${i}\n  commands: [true]\n`).join('');
  const yaml = `kind: pipeline\ntype: docker\nname: default\nsteps:\n${steps}- name: publish\n  image: plugins/docker\n  settings: {repo: acme/app}\n  when: {status: [success, failure]}\n`;
  it('lint and the compiler agree: it fits in one task', () => {
    const manifest = loadManifest('.drone.yml', yaml);
    expect(manifest.errors).toEqual([]);
    const result = compileManifest(manifest, cliContext({ repo: 'acme/app' }), CLI_COMPILE_OPTIONS);
    expect(result.errors).toEqual([]);
    expect(result.stages[0]!.taskDefinition.containerDefinitions).toHaveLength(10);
  });
});
