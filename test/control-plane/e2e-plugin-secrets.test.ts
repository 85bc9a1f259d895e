// Secrets never reach a build's log, plugin steps included, end to end on the local
// stand-ins: a push plans the build, the agent installs busybox, and a plugin step
// (no commands: its image's own command line) prints its secret — the log shows the mask.

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildDetail } from '../../core/builds/types.js';
import { SECRET_MASK } from '../../core/pipeline/mask.js';
import { E2E_REPO, startE2e, stepTable, type E2e } from '../support/control-plane-e2e.js';
import { startRegistryStandIn, type RegistryStandIn } from '../support/registry-stand-in.js';

const TOKEN = 'pl4gin-t0ken-value';
const KEY = 'multi-line-key-part-one\nmulti-line-key-part-two';

// The plugin's "image" gives its command line as `entrypoint:` (the registry is not asked);
// it prints its settings as a careless plugin would, on stdout and stderr, and reaches the
// service by name through the hosts line its wrapper adds.
const PIPELINE = `kind: pipeline
type: docker
name: release
services:
- name: cache
  image: redis:7
steps:
- name: build
  image: alpine:3
  environment:
    TOKEN:
      from_secret: api_token
  commands:
  - echo "commands see $TOKEN"
- name: notify
  image: example/notify:1
  entrypoint: [/bin/sh, -c]
  command:
  - 'echo "plugin token=$PLUGIN_TOKEN channel=$PLUGIN_CHANNEL"; echo "url=https://bot:$PLUGIN_TOKEN@chat.example.com" >&2; printf "%s\\n" "$PLUGIN_KEY"; grep -q "127.0.0.1 cache" /etc/hosts && echo "cache is in /etc/hosts"'
  settings:
    channel: ci
    token:
      from_secret: api_token
    key:
      from_secret: deploy_key
`;

// A plugin whose command line only its image knows: the planner reads it from the registry.
const REGISTRY_PLUGIN_SCRIPT = 'echo "registry plugin got $PLUGIN_TOKEN as $0"; exit "${PLUGIN_EXIT:-0}"';
const registryPipeline = (registry: string) => `kind: pipeline
type: docker
name: publish
steps:
- name: announce
  image: ${registry}/acme/announce:1
  settings:
    token:
      from_secret: api_token
`;

// Plugin steps without secrets: their image's command line is known (here their `entrypoint:`),
// so they start under the launcher, which sources the agent's env file: the build's DRONE_*
// variables reach them without RunTask's overrides (8 KiB for the whole task).
const PLAIN_PLUGINS = `kind: pipeline
type: docker
name: plain-plugins
services:
- name: cache
  image: redis:7
steps:
- name: report
  image: example/report:1
  entrypoint: [/bin/sh, -c]
  command:
  - 'printf "sha=%s number=%s repo=%s branch=%s channel=%s\\n" "$DRONE_COMMIT_SHA" "$DRONE_BUILD_NUMBER" "$DRONE_REPO" "$DRONE_BRANCH" "$PLUGIN_CHANNEL"; printf "message=[%s]\\n" "$DRONE_COMMIT_MESSAGE"; grep -q "127.0.0.1 cache" /etc/hosts && echo "cache is in /etc/hosts"'
  settings:
    channel: ci
- name: fails
  image: example/report:1
  entrypoint: [/bin/sh, -c]
  command: ['echo "step $DRONE_STEP_NAME of $DRONE_STAGE_NAME"; exit 3']
  failure: ignore
`;

// Plugin images that set a USER other than root (many do): on ECS a container without `user`
// runs as its image's USER (API_ContainerDefinition `user`, Docker's --user), and so it does in
// the ECS stand-in, told each image's USER by the registry (LocalEcsOptions.imageUser). USER
// UNLISTED_UID has no passwd entry (Docker runs it with gid 0); `nobody` has one.
const PASSWD = readFileSync('/etc/passwd', 'utf8');
const UNLISTED_UID = (() => {
  let uid = 40_123;
  while (new RegExp(`^[^:]*:[^:]*:${uid}:`, 'm').test(PASSWD)) uid++;
  return uid;
})();
const NON_ROOT_PLUGIN_SCRIPT = 'echo "non-root plugin $0: uid=$(id -u) gid=$(id -g) token=$PLUGIN_TOKEN sha=$DRONE_COMMIT_SHA status=$DRONE_BUILD_STATUS"';
const nonRootPipeline = (registry: string) => `kind: pipeline
type: docker
name: non-root
services:
- name: cache
  image: redis:7
steps:
- name: as-uid
  image: ${registry}/acme/uid-plugin:1
  settings:
    token:
      from_secret: api_token
- name: as-nobody
  image: ${registry}/acme/nobody-plugin:1
  settings:
    token:
      from_secret: api_token
`;

// Commands steps whose image's USER is not root write their records through their wrapper:
// `first` its exit record; `later`, which starts once `check` (failure: ignore) exited 78,
// skips itself and says so in its own record directory. Both directories are task volumes,
// root's with mode 0755 on Fargate, as the stand-in makes them.
const NON_ROOT_IMAGE = 'example/non-root-tools:1';
const NON_ROOT_COMMANDS = `kind: pipeline
type: docker
name: non-root-commands
steps:
- name: first
  image: ${NON_ROOT_IMAGE}
  commands: [echo "first ran as $(id -u)"]
- name: check
  image: alpine:3
  commands: [exit 78]
  failure: ignore
- name: later
  image: ${NON_ROOT_IMAGE}
  commands: [echo "later ran as $(id -u)"]
`;

let e2e: E2e;

/** A step's log, its lines joined. */
const stepLog = (stage: BuildDetail['stages'][number], name: string): string =>
  e2e.aws.ecs
    .logs(stage.taskArn!, stage.steps.find((s) => s.name === name)!.container)
    .map((l) => l.message)
    .join('\n');
let registry: RegistryStandIn;
beforeAll(async () => {
  registry = await startRegistryStandIn({ auth: 'bearer' });
  registry.publish({ name: 'acme/announce', tag: '1', platforms: { amd64: { entrypoint: ['/bin/sh', '-c', REGISTRY_PLUGIN_SCRIPT, 'announce-plugin'] }, arm64: { entrypoint: ['/bin/false'] } } });
  registry.publish({ name: 'acme/uid-plugin', tag: '1', platforms: { amd64: { entrypoint: ['/bin/sh', '-c', NON_ROOT_PLUGIN_SCRIPT, 'uid-plugin'], user: String(UNLISTED_UID) } } });
  registry.publish({ name: 'acme/nobody-plugin', tag: '1', platforms: { amd64: { entrypoint: ['/bin/sh', '-c', NON_ROOT_PLUGIN_SCRIPT, 'nobody-plugin'], user: 'nobody' } } });
  e2e = await startE2e({
    name: 'e2e-plugin-secrets',
    secrets: { [`/slipway/${E2E_REPO}/api_token`]: TOKEN, [`/slipway/${E2E_REPO}/deploy_key`]: KEY },
    imageUser: (image) => (image === NON_ROOT_IMAGE ? String(UNLISTED_UID) : registry.userOf(image)),
  });
});
afterAll(async () => {
  await e2e?.stop();
  await registry?.stop();
});

describe('secrets in the logs of plugin steps, end to end', () => {
  it('a plugin step that prints its secrets logs the mask, on stdout and stderr, across lines; the build succeeds', async () => {
    const sha = e2e.commit(PIPELINE, 'notify with a token');
    expect((await e2e.deliver(e2e.pushPayload(sha, 'notify with a token'), 'plugin-secrets-1')).statusCode).toBe(202);
    const detail = await e2e.finishedBuild('plugin-secrets-1');
    expect({ status: detail.status, steps: stepTable(detail) }).toEqual({
      status: 'success',
      steps: [{ stage: 'release', status: 'success', steps: ['clone:clone=success', 'service:cache=success', 'step:build=success', 'step:notify=success'] }],
    });
    const stage = detail.stages[0]!;
    const logOf = (name: string) => stepLog(stage, name);
    const notify = logOf('notify');
    expect(notify).toContain(`plugin token=${SECRET_MASK} channel=ci`);
    expect(notify).toContain(`url=https://bot:${SECRET_MASK}@chat.example.com`);
    expect(notify).toContain(`${SECRET_MASK}\n${SECRET_MASK}`);
    expect(notify).toContain('cache is in /etc/hosts');
    expect(logOf('build')).toContain(`commands see ${SECRET_MASK}`);
    // No container of the task logged a value: not the plugin, not the agent, not the service.
    const task = e2e.aws.ecs.tasks().find((t) => t.taskArn === stage.taskArn) as { containers: { name: string }[] };
    const everything = task.containers.map((c) => e2e.aws.ecs.logs(stage.taskArn!, c.name).map((l) => l.message).join('\n')).join('\n');
    expect(task.containers.length).toBe(4);
    for (const value of [TOKEN, ...KEY.split('\n')]) expect(everything).not.toContain(value);
    // The agent installed the busybox the plugin ran under and the masks used.
    expect(e2e.aws.ecs.logs(stage.taskArn!, 'slipway-agent').map((l) => l.message).join('\n')).toContain('busybox:');
  });

  it("plugin steps without secrets read the build's DRONE_* from the agent's env file, not from RunTask's overrides; exit codes kept", async () => {
    const message = 'Plain plugins\n\nsecond line with a quote \' and $(no expansion)';
    const sha = e2e.commit(PLAIN_PLUGINS, message);
    expect((await e2e.deliver(e2e.pushPayload(sha, message), 'plugin-plain-1')).statusCode).toBe(202);
    const detail = await e2e.finishedBuild('plugin-plain-1');
    expect({ status: detail.status, steps: stepTable(detail) }).toEqual({
      status: 'success',
      steps: [{ stage: 'plain-plugins', status: 'success', steps: ['clone:clone=success', 'service:cache=success', 'step:report=success', 'step:fails=failure'] }],
    });
    const stage = detail.stages[0]!;
    expect(stage.steps.find((s) => s.name === 'fails')!.exitCode).toBe(3);
    const logOf = (name: string) => stepLog(stage, name);
    const report = logOf('report');
    expect(report).toContain(`sha=${sha} number=${detail.number} repo=${E2E_REPO} branch=main channel=ci`);
    expect(report).toContain(`message=[${message}]`);
    expect(report).toContain('cache is in /etc/hosts');
    expect(logOf('fails')).toContain('step fails of plain-plugins');
    // RunTask carried the agent's context only: no plugin container got an override.
    const task = e2e.aws.ecs.tasks().find((t) => t.taskArn === stage.taskArn) as { overrides: { containerOverrides: { name: string }[] } };
    expect(task.overrides.containerOverrides.map((o) => o.name)).toEqual(['slipway-agent']);
  });

  it("a plugin known only by its image: the planner reads the image's entrypoint from its registry and the step runs masked", async () => {
    const host = new URL(registry.url).host;
    const sha = e2e.commit(registryPipeline(host), 'announce');
    expect((await e2e.deliver(e2e.pushPayload(sha, 'announce'), 'plugin-secrets-registry')).statusCode).toBe(202);
    const detail = await e2e.finishedBuild('plugin-secrets-registry');
    expect({ status: detail.status, error: detail.error }).toEqual({ status: 'success', error: undefined });
    const stage = detail.stages[0]!;
    const log = e2e.aws.ecs.logs(stage.taskArn!, stage.steps.find((s) => s.name === 'announce')!.container).map((l) => l.message);
    // The amd64 entrypoint ran (the pipeline's platform), its own arguments intact, its output masked.
    expect(log).toContain(`registry plugin got ${SECRET_MASK} as announce-plugin`);
    expect(log.join('\n')).not.toContain(TOKEN);
    expect(registry.requests.some((r) => r.path.startsWith('/v2/acme/announce/manifests/1'))).toBe(true);
    // Pinned to the manifest the command line was read from, so a moved tag cannot split them.
    const task = e2e.aws.ecs.tasks().find((t) => t.taskArn === stage.taskArn) as { containers: { name: string; image: string }[] };
    expect(task.containers.find((c) => c.name === 'announce')!.image).toMatch(new RegExp(`^${host.replace('.', '\\.')}/acme/announce@sha256:[0-9a-f]{64}$`));
  });

  it("plugin images whose USER is not root run under the masking launcher as that user: the env file read, the secret masked, the step passed", async () => {
    const host = new URL(registry.url).host;
    const sha = e2e.commit(nonRootPipeline(host), 'non-root plugins');
    expect((await e2e.deliver(e2e.pushPayload(sha, 'non-root plugins'), 'plugin-secrets-non-root')).statusCode).toBe(202);
    const detail = await e2e.finishedBuild('plugin-secrets-non-root');
    expect({ status: detail.status, error: detail.error, steps: stepTable(detail) }).toEqual({
      status: 'success',
      error: undefined,
      steps: [{ stage: 'non-root', status: 'success', steps: ['clone:clone=success', 'service:cache=success', 'step:as-uid=success', 'step:as-nobody=success'] }],
    });
    const stage = detail.stages[0]!;
    const nobody = /^nobody:[^:]*:(\d+):(\d+):/m.exec(PASSWD)!;
    expect(stepLog(stage, 'as-uid')).toContain(`non-root plugin uid-plugin: uid=${UNLISTED_UID} gid=0 token=${SECRET_MASK} sha=${sha} status=success`);
    expect(stepLog(stage, 'as-nobody')).toContain(`non-root plugin nobody-plugin: uid=${nobody[1]} gid=${nobody[2]} token=${SECRET_MASK} sha=${sha} status=success`);
    // Only root may write a container's /etc/hosts: the launcher says where the services are instead.
    expect(stepLog(stage, 'as-uid')).toContain('slipway: cannot write /etc/hosts: reach cache at localhost');
    for (const name of ['as-uid', 'as-nobody']) expect(stepLog(stage, name)).not.toContain(TOKEN);
    // Each step ran as its image's USER: the task definition set no `user` (the image decides, as on ECS).
    const task = e2e.aws.ecs.tasks().find((t) => t.taskArn === stage.taskArn) as { containers: { name: string; exitCode?: number }[] };
    expect(task.containers.filter((c) => c.name !== 'slipway-agent' && c.name !== 'cache').map((c) => c.exitCode)).toEqual([0, 0]);
  });

  it("commands steps whose image's USER is not root write their own records: an exit, and a skip after an exit 78", async () => {
    const sha = e2e.commit(NON_ROOT_COMMANDS, 'non-root commands');
    expect((await e2e.deliver(e2e.pushPayload(sha, 'non-root commands'), 'non-root-commands')).statusCode).toBe(202);
    const detail = await e2e.finishedBuild('non-root-commands');
    const stage = detail.stages[0]!;
    const logs = Object.fromEntries(['first', 'check', 'later'].map((name) => [name, stepLog(stage, name)]));
    expect({ status: detail.status, steps: stepTable(detail), logs }).toEqual({
      status: 'success',
      steps: [{ stage: 'non-root-commands', status: 'success', steps: ['clone:clone=success', 'step:first=success', 'step:check=success', 'step:later=skipped'] }],
      logs: expect.objectContaining({ first: expect.stringContaining(`first ran as ${UNLISTED_UID}`) }),
    });
    expect(stage.steps.find((s) => s.name === 'later')!.reason).toContain('check exited 78');
    expect(logs.later).not.toContain('later ran');
    for (const name of ['first', 'later']) expect(logs[name]).not.toMatch(/could not write|Permission denied|can't create/);
  });

  it('an image whose registry does not know it makes an error build that says what to do, and runs no task', async () => {
    const tasksBefore = e2e.aws.ecs.tasks().length;
    const host = new URL(registry.url).host;
    const sha = e2e.commit(registryPipeline(host).replace('acme/announce:1', 'acme/missing:1'), 'announce with a typo');
    expect((await e2e.deliver(e2e.pushPayload(sha, 'announce with a typo'), 'plugin-secrets-missing')).statusCode).toBe(202);
    const detail = await e2e.finishedBuild('plugin-secrets-missing');
    expect(detail.status).toBe('error');
    expect(detail.error).toMatch(/^\.drone\.yml:\d+:3: error: compile: pipeline "publish": step "announce" receives secrets \(PLUGIN_TOKEN\), so its output is masked/);
    expect(detail.error).toContain(`image "${host}/acme/missing:1"`);
    expect(detail.error).toContain("Set the step's entrypoint");
    // The pipeline's own error makes it a stage in error (issue 15), which never starts a task.
    expect(detail.stages.map((s) => [s.name, s.status, s.reason, s.taskArn])).toEqual([['publish', 'error', 'invalid-config', undefined]]);
    await e2e.plane.idle();
    expect(e2e.aws.ecs.tasks().length).toBe(tasksBefore);
  });
});
