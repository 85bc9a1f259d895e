// The wrapper of a masked plugin step, run as ECS would run the compiled container: the
// shell the agent installs (busybox here, as in the agent image) with `sh -c SCRIPT NAME`
// followed by the image's command line. PATH names an empty directory: like an image built
// FROM scratch, the container has no programs of its own beside the plugin.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileManifest, stageEnv } from '../../core/pipeline/compile.js';
import { buildEnvironment } from '../../core/pipeline/environment.js';
import { pluginRunEnvironment } from '../../core/pipeline/plugin-run-env.js';
import { envFileContent } from '../../task-runner/env-file.js';
import { STATE_BUSYBOX } from '../../core/pipeline/contract.js';
import { skipWithout } from '../support/required-tool.js';
import { loadManifest } from '../../core/pipeline/load.js';
import { SECRET_MASK } from '../../core/pipeline/mask.js';
import { pluginScript } from '../../core/pipeline/script.js';
import { fixtureContext, FIXTURE_OPTIONS } from './support.js';
import { startWrapper } from './wrapper-process.js';
import { HANG_GUARD_MS } from '../support/wait.js';

const BUSYBOX = ['/usr/bin/busybox', '/bin/busybox'].find((path) => spawnSync(path, ['sh', '-c', 'exit 0']).status === 0);
const NO_BUSYBOX = skipWithout('busybox', BUSYBOX ? undefined : 'no runnable busybox at /usr/bin/busybox or /bin/busybox');

let dir: string;
let emptyPath: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'slipway-plugin-'));
  emptyPath = join(dir, 'no-programs');
  mkdirSync(emptyPath);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A plugin program: a script run by the host's sh (its interpreter line), printing what it gets. */
function plugin(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

function runWrapped(argv: string[], env: Record<string, string>, hosts: string[] = [], secretEnv: string[] = Object.keys(env)) {
  const script = pluginScript({ container: 'upload', name: 'upload', hosts, secretEnv });
  const result = spawnSync(BUSYBOX!, ['sh', '-c', script, 'slipway-upload', ...argv], {
    env: { PATH: emptyPath, SLIPWAY_HOSTS_FILE: join(dir, 'hosts'), SLIPWAY_STATE_DIR: join(dir, 'state'), ...env },
    encoding: 'utf8',
    timeout: HANG_GUARD_MS,
  });
  return { status: result.status, out: result.stdout + result.stderr, stdout: result.stdout };
}

/** The wrapper of a plugin whose PLUGIN_TOKEN is hunter22, as a container's main process (for the signal tests). */
function startMasked(program: string) {
  const script = pluginScript({ container: 'upload', name: 'upload', hosts: [], secretEnv: ['PLUGIN_TOKEN'] });
  return startWrapper([BUSYBOX!, 'sh', '-c', script, 'slipway-upload', program], {
    PATH: `${emptyPath}:/usr/bin:/bin`,
    PLUGIN_TOKEN: 'hunter22',
    SLIPWAY_STATE_DIR: join(dir, 'state'),
  });
}

// With the agent's busybox in the state volume the mask runs as awk; without, as a shell loop.
for (const mask of ['busybox awk', 'shell loop'] as const) describe.skipIf(NO_BUSYBOX)(`masked plugin wrapper (busybox sh, no programs on PATH), mask: ${mask}`, () => {
  beforeEach(() => {
    mkdirSync(join(dir, 'state', 'agent', 'bin'), { recursive: true });
    if (mask === 'busybox awk') symlinkSync(BUSYBOX!, join(dir, 'state', 'agent', 'bin', 'busybox'));
  });

  it('masks secrets in stdout and stderr, whole, embedded and across lines, and keeps the exit code', () => {
    const program = plugin('drone-upload', ['echo "token=$PLUGIN_TOKEN"', 'echo "url=https://x:${PLUGIN_TOKEN}@host" >&2', 'printf "%s\\n" "$PLUGIN_KEY"', 'echo done', 'exit 3'].join('\n'));
    const r = runWrapped([program], { PLUGIN_TOKEN: 'tok-3x4mple', PLUGIN_KEY: '-----BEGIN KEY-----\nc2VjcmV0LWtleQ\n-----END KEY-----' });
    expect(r.status).toBe(3);
    for (const secret of ['tok-3x4mple', 'c2VjcmV0LWtleQ', 'BEGIN KEY', 'END KEY']) expect(r.out).not.toContain(secret);
    expect(r.stdout).toContain(`token=${SECRET_MASK}\n`);
    expect(r.stdout).toContain(`url=https://x:${SECRET_MASK}@host\n`);
    expect(r.stdout).toContain(`${SECRET_MASK}\n${SECRET_MASK}\n${SECRET_MASK}\n`);
    expect(r.stdout).toContain('done\n');
  });

  it('a secret under a name the shell cannot expand is masked by awk, or the output is withheld, never shown unmasked', () => {
    const program = plugin('drone-upload', ['echo "token=$PLUGIN_TOKEN"', 'echo done', 'exit 4'].join('\n'));
    const r = runWrapped([program], { PLUGIN_TOKEN: 'tok-3x4mple' }, [], ['PLUGIN_TOKEN', 'PLUGIN_API-KEY']);
    expect(r.status).toBe(4);
    expect(r.out).not.toContain('tok-3x4mple');
    if (mask === 'busybox awk') expect(r.stdout).toBe(`token=${SECRET_MASK}\ndone\n`);
    else expect(r.stdout).toBe("slipway: the output is withheld: PLUGIN_API-KEY cannot be masked without the agent's busybox (/slipway/agent/bin/busybox)\n");
  });

  it('passes the image command line through exactly: spaces, quotes, globs and empty arguments', () => {
    const program = plugin('args', 'for a in "$@"; do printf "[%s]\\n" "$a"; done');
    const r = runWrapped([program, 'two words', `it's "quoted"`, '*', '', '$HOME'], { PLUGIN_TOKEN: 'unused-secret' });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`[two words]\n[it's "quoted"]\n[*]\n[]\n[$HOME]\n`);
  });

  it('adds service names to the hosts file with builtins only, once', () => {
    writeFileSync(join(dir, 'hosts'), '127.0.0.1 localhost\n');
    const program = plugin('noop', 'exit 0');
    expect(runWrapped([program], { PLUGIN_TOKEN: 'some-secret' }, ['cache', 'db']).status).toBe(0);
    expect(runWrapped([program], { PLUGIN_TOKEN: 'some-secret' }, ['cache', 'db']).status).toBe(0);
    expect(readFileSync(join(dir, 'hosts'), 'utf8')).toBe('127.0.0.1 localhost\n127.0.0.1 cache db\n');
  });

  it('a command line that does not exist fails with 127 and says so', () => {
    const r = runWrapped([join(dir, 'missing-plugin')], { PLUGIN_TOKEN: 'some-secret' });
    expect(r.status).toBe(127);
    expect(r.out).toMatch(/missing-plugin: not found/);
  });

  it('SIGTERM stops the plugin at once with 143', async () => {
    const program = plugin('slow', 'echo "started $PLUGIN_TOKEN"\nexec sleep 30');
    const wrapper = startMasked(program);
    try {
      await wrapper.waitForOutput('started');
      expect(wrapper.stdout()).toBe(`started ${SECRET_MASK}\n`);
      wrapper.signal('SIGTERM');
      expect(await wrapper.exited()).toBe(143);
    } finally {
      wrapper.cleanup();
    }
  });

  it('SIGTERM reaches the plugin, which may clean up (its output still masked) before the wrapper exits 143', async () => {
    const program = plugin('careful', ['trap \'echo "releasing the lock of $PLUGIN_TOKEN"; exit 7\' TERM', 'echo ready', 'sleep 30 &', 'wait $!'].join('\n'));
    const wrapper = startMasked(program);
    try {
      await wrapper.waitForOutput('ready');
      wrapper.signal('SIGTERM');
      expect(await wrapper.exited()).toBe(143);
      await wrapper.waitForOutput('releasing');
      // (The plugin's own sh may also say its `sleep` was Terminated.)
      expect(wrapper.stdout()).toMatch(/^ready\n/);
      expect(wrapper.stdout()).toContain(`releasing the lock of ${SECRET_MASK}\n`);
      expect(wrapper.stdout()).not.toContain('hunter22');
    } finally {
      wrapper.cleanup();
    }
  });

  it('a program named without a path runs from the image PATH, not as a busybox applet', () => {
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'env'), '#!/bin/sh\necho "the image\'s own env, $PLUGIN_TOKEN"\n');
    chmodSync(join(bin, 'env'), 0o755);
    const script = pluginScript({ container: 'upload', name: 'upload', hosts: [], secretEnv: ['PLUGIN_TOKEN'] });
    const result = spawnSync(BUSYBOX!, ['sh', '-c', script, 'slipway-upload', 'env'], {
      env: { PATH: `${emptyPath}:${bin}`, PLUGIN_TOKEN: 'hunter22', SLIPWAY_STATE_DIR: join(dir, 'state') },
      encoding: 'utf8',
    });
    expect(result.stdout).toBe(`the image's own env, ${SECRET_MASK}\n`);
    expect(result.status).toBe(0);
  });

  it('the compiled container runs masked: `echo $SECRET` in a plugin logs no value', () => {
    const program = plugin('drone-notify', 'echo "notify with $NOTIFY_TOKEN and $PLUGIN_CHANNEL"');
    const text = [
      'kind: pipeline',
      'type: docker',
      'name: notify',
      'steps:',
      '  - name: notify',
      '    image: example/notify',
      '    settings:',
      '      channel: ci',
      '    environment:',
      '      NOTIFY_TOKEN:',
      '        from_secret: notify_token',
    ].join('\n');
    const manifest = loadManifest('.drone.yml', text);
    const compiled = compileManifest(manifest, fixtureContext('').context, {
      ...FIXTURE_OPTIONS,
      imageCommands: (image) => (image === 'example/notify' ? { ok: true, entrypoint: [program], cmd: null } : undefined),
    });
    const container = compiled.stages[0]!.taskDefinition.containerDefinitions!.find((c) => c.name === 'notify')!;
    const argv = [...container.entryPoint!, ...container.command!];
    expect(argv[0]).toBe(STATE_BUSYBOX);
    // ECS gives the container its environment and the resolved secret; the agent put busybox at STATE_BUSYBOX.
    const env = Object.fromEntries([
      ...(container.environment ?? []).map((kv) => [kv.name!, kv.value!]),
      ['NOTIFY_TOKEN', 'n0tify-t0ken'],
      ['PATH', emptyPath],
      ['SLIPWAY_STATE_DIR', join(dir, 'state')],
    ]);
    const result = spawnSync(BUSYBOX!, argv.slice(1), { env, encoding: 'utf8', timeout: HANG_GUARD_MS });
    expect(result.status).toBe(0);
    expect(result.stdout).toBe(`notify with ${SECRET_MASK} and ci\n`);
    expect(container.secrets).toEqual([{ name: 'NOTIFY_TOKEN', valueFrom: expect.stringContaining('notify_token') }]);
  });
});

// A plugin step whose image's command line is known runs under the launcher even without
// secrets: the build's DRONE_* variables come from the agent's env file, not from RunTask's
// overrides, which hold 8 KiB for the whole task (override-budget.ts). What the plugin sees
// must be what the overrides gave it, and it must run as the container's main process.
describe.skipIf(NO_BUSYBOX)('plugin launcher without secrets (busybox sh, no programs on PATH)', () => {
  const MESSAGE = 'Release 1.2\n\nwith a body line and a quote \' and $(not run)';
  const PIPELINE = [
    'kind: pipeline',
    'type: docker',
    'name: notify',
    'steps:',
    '  - name: notify',
    '    image: example/notify',
    '    environment:',
    '      DRONE_REPO_BRANCH: set-by-the-step',
    '      CHANNEL_ID: "42"',
    '    settings:',
    '      channel: ci',
  ].join('\n');

  function compileNotify(program: string, pipeline = PIPELINE) {
    const { context } = fixtureContext('');
    const ctx = { ...context, commit: { ...context.commit, message: MESSAGE } };
    const compiled = compileManifest(loadManifest('.drone.yml', pipeline), ctx, {
      ...FIXTURE_OPTIONS,
      imageCommands: (image) => (image.startsWith('example/notify') ? { ok: true, entrypoint: [program], cmd: ['--from-cmd'] } : undefined),
    });
    expect(compiled.errors).toEqual([]);
    return { ctx, stage: compiled.stages[0]! };
  }

  /** Runs a compiled container as ECS would, with the env file the agent writes for this build. */
  function runContainer(stage: ReturnType<typeof compileNotify>['stage'], ctx: ReturnType<typeof compileNotify>['ctx'], name: string) {
    const container = stage.taskDefinition.containerDefinitions!.find((c) => c.name === name)!;
    mkdirSync(join(dir, 'state', 'agent'), { recursive: true });
    writeFileSync(join(dir, 'state', 'agent', 'env'), envFileContent(stage.plan, ctx, 'acme/app#1/1'));
    const env = Object.fromEntries([...(container.environment ?? []).map((kv) => [kv.name!, kv.value!]), ['PATH', emptyPath], ['SLIPWAY_STATE_DIR', join(dir, 'state')]]);
    const argv = [...container.entryPoint!, ...container.command!];
    const result = spawnSync(BUSYBOX!, argv.slice(1), { env, encoding: 'utf8', timeout: HANG_GUARD_MS });
    return { container, result };
  }

  it("gives the plugin the build's DRONE_* values the overrides gave it, multi-line message included; the step's own values win", () => {
    // A program with no shell behind it (node by its path): it prints its environment as JSON.
    const program = join(dir, 'drone-notify');
    writeFileSync(program, `#!${process.execPath}\nprocess.stdout.write(JSON.stringify(process.env));\nprocess.stderr.write('args: ' + process.argv.slice(2).join(' ') + '\\n');\n`);
    chmodSync(program, 0o755);
    const { ctx, stage } = compileNotify(program);
    const { container, result } = runContainer(stage, ctx, 'notify');
    expect(container.entryPoint).toEqual([STATE_BUSYBOX, 'sh', '-c']);
    expect(result.status).toBe(0);
    expect(result.stderr).toBe('args: --from-cmd\n');
    const seen = JSON.parse(result.stdout) as Record<string, string>;
    // What the plugin received before, in its RunTask override: every value identical.
    const before = pluginRunEnvironment(buildEnvironment(ctx, stageEnv(loadManifest('.drone.yml', PIPELINE).pipelines[0]!, 1)));
    for (const [name, value] of Object.entries(before)) {
      if (name === 'DRONE_REPO_BRANCH') continue;
      expect(seen[name], name).toBe(value);
    }
    expect(seen.DRONE_COMMIT_MESSAGE).toBe(MESSAGE);
    expect(seen.DRONE_REPO_BRANCH).toBe('set-by-the-step');
    expect(seen.CHANNEL_ID).toBe('42');
    expect(seen.PLUGIN_CHANNEL).toBe('ci');
    // Its status, as the compiler fixed it for a step that runs while the build passes.
    expect(seen.DRONE_BUILD_STATUS).toBe('success');
    // The overrides carry nothing for it: the agent's context only.
    expect(stage.runTask.overrides!.containerOverrides!.map((o) => o.name)).toEqual(['slipway-agent']);
    expect(stage.plan.installBusybox).toBe(true);
  });

  it("keeps the plugin's exit code and runs it as the container's main process (exec, the same pid)", () => {
    const program = plugin('drone-notify', 'echo "pid=$$"; exit 7');
    const { ctx, stage } = compileNotify(program);
    const { result } = runContainer(stage, ctx, 'notify');
    expect(result.status).toBe(7);
    expect(result.stdout).toBe(`pid=${result.pid}\n`);
  });

  it("nine plugin steps whose command lines are known fit RunTask's overrides (they did not when each carried DRONE_*)", () => {
    const text = readFileSync(new URL('../fixtures/compile/fail/overrides-too-large.yml', import.meta.url), 'utf8');
    const manifest = loadManifest('.drone.yml', text);
    const withoutLookup = compileManifest(manifest, fixtureContext('').context, FIXTURE_OPTIONS);
    expect(withoutLookup.errors[0]?.diagnostics[0]?.message).toMatch(/its per-run overrides are \d+ characters but RunTask accepts at most 8192/);
    const launched = compileManifest(manifest, fixtureContext('').context, {
      ...FIXTURE_OPTIONS,
      imageCommands: () => ({ ok: true, entrypoint: ['/bin/drone-webhook'], cmd: null }),
    });
    expect(launched.errors).toEqual([]);
    const overrides = launched.stages[0]!.runTask.overrides!;
    expect(overrides.containerOverrides!.map((o) => o.name)).toEqual(['slipway-agent']);
    expect(JSON.stringify(overrides).length).toBeLessThan(2048);
  });
});
