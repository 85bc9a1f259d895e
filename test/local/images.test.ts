// The image catalogue: which host program each image becomes.
import { describe, expect, it } from 'vitest';
import { DEFAULT_IMAGE_BUILDER } from '../../core/pipeline/image-build.js';
import { existsSync } from 'node:fs';
import { DEFAULT_AGENT_IMAGE, STATE_BUSYBOX } from '../../core/pipeline/contract.js';
import { AGENT_CODE_DIR, imageRepositoryName, PROJECT_ROOT, resolveImage, type ContainerImageSpec } from '../../local/images.js';
import { findBinary } from '../../local/require-binary.js';

const spec = (image: string, extra: Partial<ContainerImageSpec> = {}): ContainerImageSpec => ({ image, environment: {}, dataDir: '/tmp/data', ...extra });

describe('image catalogue', () => {
  it('runs the agent image as the task-runner under node with tsx, from the project', () => {
    for (const image of [DEFAULT_AGENT_IMAGE, '123456789012.dkr.ecr.us-east-1.amazonaws.com/agent:abc']) {
      const out = resolveImage(spec(image, { command: ['--verbose'] }), { agentImages: ['123456789012.dkr.ecr.us-east-1.amazonaws.com/agent:abc'] });
      if (!out.ok) throw new Error(out.reason);
      const [node, flag, loader, main, ...rest] = out.launch.argv;
      expect(node).toBe(process.execPath);
      expect(flag).toBe('--import');
      expect(loader).toMatch(/^file:\/\/.*\/node_modules\/tsx\/.*loader\.mjs$/);
      expect(existsSync(new URL(loader!))).toBe(true);
      expect(main).toBe(`${PROJECT_ROOT}task-runner/main.ts`);
      expect(rest).toEqual(['--verbose']);
    }
  });

  it("with a root of its own, runs the agent from /opt/slipway: the project's parts it needs mounted read-only, and the local repository it clones", () => {
    const build = JSON.stringify({ repo: { httpUrl: 'file:///tmp/slipway-demo-abc' } });
    const out = resolveImage(spec(DEFAULT_AGENT_IMAGE, { agentCodeDir: AGENT_CODE_DIR, environment: { SLIPWAY_BUILD: build } }));
    if (!out.ok) throw new Error(out.reason);
    const [, , loader, main] = out.launch.argv;
    expect(loader).toMatch(/^file:\/\/\/opt\/slipway\/node_modules\/tsx\/.*loader\.mjs$/);
    expect(main).toBe('/opt/slipway/task-runner/main.ts');
    expect(out.launch.mounts).toEqual([
      ...['package.json', 'task-runner', 'core', 'node_modules'].map((part) => ({ source: `${PROJECT_ROOT}${part}`, target: `/opt/slipway/${part}`, readOnly: true })),
      { source: '/tmp/slipway-demo-abc', target: '/tmp/slipway-demo-abc', readOnly: true },
    ]);
    // A hosted repository is cloned over the network: nothing of the host to mount.
    const hosted = resolveImage(spec(DEFAULT_AGENT_IMAGE, { agentCodeDir: AGENT_CODE_DIR, environment: { SLIPWAY_BUILD: JSON.stringify({ repo: { httpUrl: 'https://github.com/acme/app.git' } }) } }));
    expect(hosted.ok && hosted.launch.mounts.map((m) => m.target)).toEqual(['package.json', 'task-runner', 'core', 'node_modules'].map((part) => `/opt/slipway/${part}`));
  });

  it('maps postgres and redis to the installed servers, and their other commands as given', () => {
    const pg = resolveImage(spec('docker.io/library/postgres:15-alpine'));
    expect(pg.ok && pg.launch.kind).toBe('postgres');
    expect(pg.ok && pg.launch.ports).toEqual([5432]);
    const psql = resolveImage(spec('postgres:15', { command: ['psql', '--version'] }));
    expect(psql.ok && psql.launch.argv).toEqual(['psql', '--version']);
    const redis = resolveImage(spec('redis:7', { command: ['redis-server', '--port', '6380'] }));
    if (!redis.ok) throw new Error(redis.reason);
    expect(redis.launch.argv[0]).toMatch(/redis-server$/);
    expect(redis.launch.argv.slice(-2)).toEqual(['--port', '6380']);
    expect(redis.launch.ports).toEqual([6380]);
  });

  it('names the missing package for mysql/mariadb when the server is not installed', () => {
    const out = resolveImage(spec('mysql:8'));
    if (findBinary('mariadbd', ['/usr/sbin']) || findBinary('mysqld', ['/usr/sbin'])) expect(out.ok).toBe(true);
    else expect(out).toEqual({ ok: false, reason: expect.stringMatching(/^image mysql:8 cannot run locally: mariadbd is not installed \(apt-get install mariadb-server/) });
  });

  it('runs any other image entryPoint + command with host programs; with neither it cannot run', () => {
    expect(resolveImage(spec('alpine:3', { entryPoint: ['/bin/sh', '-c'], command: ['echo hi'] }))).toMatchObject({ ok: true, launch: { argv: ['/bin/sh', '-c', 'echo hi'] } });
    expect(resolveImage(spec('golang:1.22', { command: ['go', 'test'] }))).toMatchObject({ ok: true, launch: { argv: ['go', 'test'] } });
    // An explicit entryPoint replaces even a catalogue image's own.
    expect(resolveImage(spec('postgres:15', { entryPoint: ['/bin/sh', '-c'], command: ['pg_isready'] }))).toMatchObject({ ok: true, launch: { kind: 'command' } });
    expect(resolveImage(spec('plugins/docker'))).toEqual({ ok: false, reason: expect.stringMatching(/^image plugins\/docker cannot run locally: it has no entryPoint or command/) });
  });

  it('runs the image builder (kaniko) step script under the host sh, with buildah behind kaniko\'s executor', () => {
    const spec = { image: DEFAULT_IMAGE_BUILDER, entryPoint: ['/busybox/sh', '-c'], command: ['echo build'], environment: {}, dataDir: '/tmp/c1' };
    const result = resolveImage(spec, { projectRoot: '/proj', buildahRoot: '/var/tmp/b' });
    if (!findBinary('buildah', ['/usr/bin'])) {
      expect(result).toEqual({ ok: false, reason: expect.stringContaining('buildah is not installed') });
      return;
    }
    expect(result).toEqual({
      ok: true,
      launch: {
        argv: ['/usr/bin/env', 'SLIPWAY_KANIKO_EXECUTOR=/proj/local/image-builder.sh', 'SLIPWAY_BUILDAH_ROOT=/var/tmp/b', 'DOCKER_CONFIG=/tmp/c1/docker', 'SLIPWAY_PRIVATE_DIR=/tmp/c1', 'SLIPWAY_BUILD_ARCH=amd64', 'SLIPWAY_PUSH_GRANT=/tmp/c1/push-grant', 'sh', '-c', 'echo build'],
        kind: 'image-builder',
        ports: [],
        // In a root of its own: the executor read-only, buildah's layer cache writable, each at its own path.
        mounts: [
          { source: '/proj/local/image-builder.sh', target: '/proj/local/image-builder.sh', readOnly: true },
          { source: '/var/tmp/b', target: '/var/tmp/b', readOnly: false },
        ],
      },
    });
    // An ARM64 task's builder labels its image arm64 (local/image-builder.sh: buildah --arch).
    const arm = resolveImage({ ...spec, architecture: 'arm64' }, { projectRoot: '/proj', buildahRoot: '/var/tmp/b' });
    expect(arm.ok && arm.launch.argv.filter((a) => a.startsWith('SLIPWAY_BUILD_ARCH='))).toEqual(['SLIPWAY_BUILD_ARCH=arm64']);
    // Its own entrypoint (not a step script) cannot run here: said so.
    expect(resolveImage({ ...spec, entryPoint: ['/kaniko/executor'] }, {})).toMatchObject({ ok: false, reason: expect.stringContaining('runs locally only as a step script') });
  });

  it('runs plugins/manifest (any tag, a pinned digest) as local/manifest-plugin.sh where the command line names /bin/drone-manifest, masked or not', () => {
    const program = '/proj/local/manifest-plugin.sh';
    const cases: [ContainerImageSpec, string[]][] = [
      [spec('plugins/manifest'), [program]],
      [spec('docker.io/plugins/manifest:1.4', { command: ['--help'] }), [program, '--help']],
      // The masking wrapper (core/pipeline/script.ts, pluginScript) execs the entrypoint it is given last.
      [spec(`plugins/manifest@sha256:${'a'.repeat(64)}`, { entryPoint: [STATE_BUSYBOX, 'sh', '-c'], command: ['SCRIPT', 'slipway-step1', '/bin/drone-manifest'] }), [STATE_BUSYBOX, 'sh', '-c', 'SCRIPT', 'slipway-step1', program]],
      // A step's own entrypoint that is the plugin's program.
      [spec('plugins/manifest', { entryPoint: ['/bin/drone-manifest'], command: ['--help'] }), [program, '--help']],
    ];
    for (const [given, argv] of cases) {
      const out = resolveImage(given, { projectRoot: '/proj' });
      if (!findBinary('buildah', ['/usr/bin'])) {
        expect(out).toEqual({ ok: false, reason: expect.stringContaining('buildah, which is not installed') });
        continue;
      }
      // Where the task role's push rights to the local registry are, if the ECS stand-in wrote them (local/push-grant.ts).
      expect(out).toEqual({ ok: true, launch: { argv: ['/usr/bin/env', 'SLIPWAY_PUSH_GRANT=/tmp/data/push-grant', ...argv], kind: 'plugin', ports: [], mounts: [{ source: program, target: program, readOnly: true }] } });
    }
    // Another image of the same name elsewhere is not the plugin.
    expect(resolveImage(spec('ghcr.io/acme/manifest'))).toMatchObject({ ok: false, reason: expect.stringContaining('no entryPoint or command') });
  });

  it('runs a plugins/manifest container whose program is not the plugin\'s as any image: no stand-in, no push right', () => {
    const cases: ContainerImageSpec[] = [
      // A commands step: its script under the shell.
      spec('plugins/manifest', { entryPoint: ['/bin/sh', '-c'], command: ['cat "$SLIPWAY_PUSH_GRANT/auth.json"'] }),
      // The launcher execing a step's own entrypoint that only names the program as an argument.
      spec('plugins/manifest', { entryPoint: [STATE_BUSYBOX, 'sh', '-c'], command: ['SCRIPT', 'slipway-step1', 'sh', '-c', 'cat x', '/bin/drone-manifest'] }),
      // The launcher's shape from another shell (a service's own entrypoint is never the launcher's: compile refuses it).
      spec('plugins/manifest', { entryPoint: ['/bin/busybox', 'sh', '-c'], command: ['cat x', 'name', '/bin/drone-manifest'] }),
    ];
    for (const given of cases) {
      const out = resolveImage(given, { projectRoot: '/proj' });
      expect(out).toEqual({ ok: true, launch: { argv: [...given.entryPoint!, ...given.command!], kind: 'command', ports: [], mounts: [] } });
    }
  });

  it('reads the repository name out of registry, tag and digest', () => {
    expect(imageRepositoryName('public.ecr.aws/docker/library/redis:7@sha256:abc')).toBe('redis');
    expect(imageRepositoryName('Postgres')).toBe('postgres');
  });
});
