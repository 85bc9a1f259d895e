import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../core/pipeline/format.js';
import { isReadable, isValid, loadManifest, loadManifestBytes } from '../../core/pipeline/load.js';
import { emptyConditions } from '../../core/pipeline/parse.js';
import type { Manifest, Pipeline, Step } from '../../core/pipeline/types.js';

const FILE = '.drone.yml';
const load = (text: string) => loadManifest(FILE, text);
const lines = (m: Manifest) => m.diagnostics.map(formatDiagnostic);
const errors = (m: Manifest) => m.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic);
const warnings = (m: Manifest) => m.diagnostics.filter((d) => d.severity === 'warning').map(formatDiagnostic);

/** The only pipeline of a valid file. */
function pipelineOf(text: string): Pipeline {
  const m = load(text);
  expect(errors(m)).toEqual([]);
  expect(m.pipelines).toHaveLength(1);
  return m.pipelines[0]!;
}

const step = (text: string): Step => pipelineOf(`kind: pipeline\nsteps:\n${text}`).steps[0]!;

describe('loadManifest: a minimal pipeline gets Drone\'s defaults', () => {
  it('fills every default of types.ts', () => {
    const p = pipelineOf('kind: pipeline\nsteps:\n- name: build\n  image: golang\n  commands: [go build]\n');
    expect(p).toEqual({
      kind: 'pipeline',
      type: 'docker',
      name: 'default',
      pos: { line: 1, column: 1 },
      stepsPos: { line: 2, column: 1 },
      platform: { os: 'linux', arch: 'amd64' },
      workspace: { base: '/drone/src', path: '/drone/src' },
      clone: { disable: false, tags: false, skipVerify: false, submodules: false, retries: 0 },
      steps: [
        {
          name: 'build', pos: { line: 3, column: 3 }, image: 'golang', pull: 'default', commands: ['go build'],
          environment: {}, settings: {}, dependsOn: [], detach: false, failure: 'always', when: emptyConditions(),
          volumes: [], privileged: false,
        },
      ],
      services: [],
      volumes: [],
      trigger: emptyConditions(),
      dependsOn: [],
      node: {},
      imagePullSecrets: [],
      environment: {},
      timeout: 60,
    } satisfies Pipeline);
  });

  it('reads type: docker like an omitted type', () => {
    expect(pipelineOf('kind: pipeline\ntype: docker\nname: x\nsteps: [{name: a, image: b}]').name).toBe('x');
  });
});

describe('loadManifest: documents and kinds', () => {
  it('reads several documents with their positions', () => {
    const m = load(`---
kind: pipeline
name: one
steps: [{name: a, image: alpine}]
---
kind: pipeline
name: two
depends_on: [one]
steps:
- name: b
  image: alpine
`);
    expect(errors(m)).toEqual([]);
    expect(m.pipelines.map((p) => [p.name, p.pos.line, p.dependsOn])).toEqual([
      ['one', 2, []],
      ['two', 6, ['one']],
    ]);
    expect(m.pipelines[1]!.steps[0]!.pos).toEqual({ line: 10, column: 3 });
  });

  it.each(['kubernetes', 'exec', 'ssh', 'vm', 'digitalocean', 'macstadium'])('skips type %s with a reason', (type) => {
    const m = load(`kind: pipeline\ntype: ${type}\nname: other\nsteps: [{name: a, image: b}]\n---\nkind: pipeline\nsteps: [{name: a, image: b}]\n`);
    expect(errors(m)).toEqual([]);
    expect(m.skipped).toEqual([{ name: 'other', reason: `type "${type}" runs on another runner`, dependsOn: [] }]);
    expect(m.pipelines.map((p) => p.name)).toEqual(['default']);
  });

  // Its dependents inherit them (core/pipeline/pipeline-graph.ts), as in Drone's dag.go.
  it("keeps a skipped pipeline's depends_on, for its dependents to wait for in its place", () => {
    const m = load('kind: pipeline\nname: build\nsteps: [{name: a, image: b}]\n---\nkind: pipeline\nname: arm\nplatform: {arch: arm}\ndepends_on: [build]\nsteps: [{name: a, image: b}]\n---\nkind: pipeline\ntype: exec\nname: mac\ndepends_on: arm\nsteps: [{name: a, commands: [x]}]\n');
    expect(errors(m)).toEqual([]);
    expect(m.skipped).toEqual([
      { name: 'arm', reason: 'platform arch "arm" runs on another runner: Fargate runs amd64 and arm64 (Fargate has no 32-bit ARM)', dependsOn: ['build'], platform: true },
      { name: 'mac', reason: 'type "exec" runs on another runner', dependsOn: ['arm'] },
    ]);
  });

  // drone-yaml reads `kind: Pipeline` as a pipeline (yaml/parse.go), but Drone's queue and the
  // docker runner match the kind exactly (scheduler/queue/queue.go matchResource,
  // engine/resource/parser.go): Drone creates the stage and never runs it. Here: that
  // pipeline's own error (0xch4z/docker-terraform-tflint), and the file's other pipelines run.
  it('kind: Pipeline is an error of that pipeline, saying what Drone expects; the others run', () => {
    const m = load('kind: Pipeline\nname: one\nsteps: [{name: a, image: b}]\n---\nkind: pipeline\nname: two\nsteps: [{name: a, image: b}]\n');
    const message = 'kind: "Pipeline" is not Drone\'s kind: Drone matches kinds exactly, so it would create this stage and no runner would ever take it; write kind: pipeline (lower case)';
    expect(errors(m)).toEqual([`.drone.yml:1:7: error: ${message}`]);
    expect(m.pipelines.map((p) => p.name)).toEqual(['one', 'two']);
    expect(m.errors.map((e) => [e.name, e.diagnostics.map((d) => d.message)])).toEqual([['one', [message]]]);
    expect(isReadable(m)).toBe(true);
    // Of another runner's type: skipped, and the case said as a warning.
    const other = load('kind: PIPELINE\ntype: exec\nname: mac\nsteps: [{name: a, commands: [x]}]\n---\nkind: pipeline\nname: two\nsteps: [{name: a, image: b}]\n');
    expect(errors(other)).toEqual([]);
    expect(other.skipped.map((s) => s.name)).toEqual(['mac']);
    expect(warnings(other)).toEqual([expect.stringContaining('.drone.yml:1:7: warning: kind: "PIPELINE" is not Drone\'s kind')]);
  });

  it('warns when every pipeline runs on another runner', () => {
    const m = load('kind: pipeline\ntype: exec\nsteps: [{name: a, commands: [x]}]\n');
    expect(isValid(m)).toBe(true);
    expect(m.skipped).toEqual([{ name: 'default', reason: 'type "exec" runs on another runner', dependsOn: [] }]);
    expect(warnings(m)).toEqual(['.drone.yml:1:1: warning: no docker pipeline: every pipeline here runs on another runner, so Slipway has nothing to run']);
  });

  it('reads kind: secret and ignores kind: signature', () => {
    const m = load(`kind: pipeline
steps: [{name: a, image: b}]
---
kind: secret
name: token
get:
  path: ci/tokens
  name: github
---
kind: signature
hmac: 0123456789abcdef
`);
    expect(errors(m)).toEqual([]);
    expect(m.secrets).toEqual([{ name: 'token', pos: { line: 4, column: 1 }, get: { path: 'ci/tokens', name: 'github' } }]);
    expect(m.pipelines).toHaveLength(1);
  });

  it.each([
    ['kind: deployment\nname: x\n', '.drone.yml:1:7: error: kind: unknown kind "deployment" (expected pipeline, secret or signature)'],
    ['kind: Secret\nname: x\nget: {path: p}\n', '.drone.yml:1:7: error: kind: unknown kind "Secret" (expected pipeline, secret or signature); Drone matches kinds exactly, in lower case: write kind: secret'],
    ['name: x\nsteps: []\n', '.drone.yml:1:1: error: document: missing "kind" (expected pipeline, secret or signature)'],
    ['pipeline:\n  build:\n    image: golang\n', '.drone.yml:1:1: error: document: missing "kind" (expected pipeline, secret or signature); this looks like a Drone 0.8 file: convert it with `drone convert`'],
    ['just a string\n', '.drone.yml:1:1: error: document: expected a map with kind: pipeline, got a string ("just a string")'],
    ['- a\n- b\n', '.drone.yml:1:1: error: document: expected a map with kind: pipeline, got a list'],
    ['42\n', '.drone.yml:1:1: error: document: expected a map with kind: pipeline, got a number (42)'],
    ['kind: [pipeline]\n', '.drone.yml:1:7: error: kind: expected a string, got a list'],
    ['kind: pipeline\ntype: {a: 1}\n', '.drone.yml:2:7: error: type: expected a string, got a map'],
    ['kind: secret\nname: s\n', '.drone.yml:1:1: error: secret "s": expected "get: { path, name }"'],
    ['kind: secret\nget: {path: p}\n', '.drone.yml:1:1: error: missing "name" in secret'],
  ])('rejects a bad document: %j', (text, expected) => {
    expect(errors(load(text))).toContain(expected);
  });

  it.each([
    ['an empty file', '', '.drone.yml:1:1: error: no pipeline found: the file is empty'],
    ['only comments', '# nothing here\n', '.drone.yml:1:1: error: no pipeline found: the file is empty'],
    ['only separators', '---\n---\n', '.drone.yml:1:1: error: no pipeline found: the file is empty'],
    ['only a secret', 'kind: secret\nname: a\nget: {path: p}\n', '.drone.yml:1:1: error: no pipeline found: expected a document with kind: pipeline'],
  ])('rejects %s', (_label, text, expected) => {
    const m = load(text);
    expect(lines(m)).toEqual([expected]);
    expect(isValid(m)).toBe(false);
  });
});

describe('loadManifest: steps', () => {
  it('reads every step field', () => {
    const s = step(`- name: publish
  image: plugins/s3:1
  pull: always
  commands:
  - echo one
  - 42
  entrypoint: [/bin/sh, -c]
  command: [run]
  environment:
    TEXT: hello
    NUMBER: 1.10
    BOOL: true
    EMPTY:
    TOKEN: { from_secret: s3_token }
  settings:
    bucket: my-bucket
    acl: [public, read]
    nested: { a: 1, b: [x] }
    key: { from_secret: s3_key }
  depends_on: [clone]
  failure: ignore
  user: 1000
  working_dir: /src
  shell: /bin/bash
  privileged: false
  resources: { cpu: 512, memory: 1024 }
`);
    expect(s).toMatchObject({
      name: 'publish',
      image: 'plugins/s3:1',
      pull: 'always',
      commands: ['echo one', '42'],
      entrypoint: ['/bin/sh', '-c'],
      command: ['run'],
      environment: {
        TEXT: { value: 'hello' },
        NUMBER: { value: '1.10' },
        BOOL: { value: 'true' },
        EMPTY: { value: '' },
        TOKEN: { fromSecret: 's3_token' },
      },
      settings: {
        bucket: { value: 'my-bucket' },
        acl: { value: ['public', 'read'] },
        nested: { value: { a: 1, b: ['x'] } },
        key: { fromSecret: 's3_key' },
      },
      dependsOn: ['clone'],
      failure: 'ignore',
      user: '1000',
      workingDir: '/src',
      shell: '/bin/bash',
      privileged: false,
      resources: { cpu: 512, memory: 1024 },
    });
    expect(s.ready).toBeUndefined();
  });

  it.each([
    ['yes', true], ['no', false], ['on', true], ['off', false], ['true', true], ['False', false],
  ])('reads detach: %s as a YAML 1.1 boolean, as Drone does', (text, expected) => {
    expect(step(`- name: a\n  image: b\n  detach: ${text}\n`).detach).toBe(expected);
  });

  it('keeps a `__proto__` environment name as data', () => {
    const s = step('- name: a\n  image: b\n  environment:\n    __proto__: x\n');
    expect(Object.getPrototypeOf(s.environment)).toBe(Object.prototype);
    expect(Object.entries(s.environment)).toEqual([['__proto__', { value: 'x' }]]);
  });

  it('expands anchors and merge keys, explicit keys winning', () => {
    const p = pipelineOf(`kind: pipeline
x-go: &go
  image: golang:1.22
  environment: { GOFLAGS: -mod=vendor }
  pull: always
steps:
- name: build
  <<: *go
  pull: never
- name: test
  <<: [*go]
  commands: [go test]
`);
    expect(p.steps.map((s) => [s.name, s.image, s.pull, s.environment])).toEqual([
      ['build', 'golang:1.22', 'never', { GOFLAGS: { value: '-mod=vendor' } }],
      ['test', 'golang:1.22', 'always', { GOFLAGS: { value: '-mod=vendor' } }],
    ]);
  });
});

describe('loadManifest: services and readiness', () => {
  it.each([
    ['postgres:15', [5432]],
    ['mysql:8', [3306]],
    ['mariadb', [3306]],
    ['redis:7-alpine', [6379]],
    ['mongo', [27017]],
    ['memcached', [11211]],
    ['rabbitmq:3-management', [5672]],
    ['docker.elastic.co/elasticsearch/elasticsearch:8.13.0', [9200]],
    ['opensearchproject/opensearch:2', [9200]],
    ['public.ecr.aws/docker/library/postgres:16', [5432]],
    ['registry.example.com:5000/mirror/redis', [6379]],
    ['bitnami/postgresql', [5432]],
    ['my/app:1', []],
  ])('a service of %s is probed on %j by default', (image, ports) => {
    const p = pipelineOf(`kind: pipeline\nservices:\n- name: svc\n  image: ${image}\nsteps: [{name: a, image: b}]\n`);
    expect(p.services[0]!.ready).toEqual({ ports, timeout: 60, interval: 5 });
  });

  it('reads ready: with explicit ports, command, timeout and interval', () => {
    const p = pipelineOf(`kind: pipeline
services:
- name: db
  image: postgres
  ready: { ports: [5433, 8080], command: pg_isready -U postgres, timeout: 90, interval: 2 }
- name: quiet
  image: redis
  ready: { ports: [] }
steps: [{name: a, image: b}]
`);
    expect(p.services[0]!.ready).toEqual({ ports: [5433, 8080], command: 'pg_isready -U postgres', timeout: 90, interval: 2 });
    expect(p.services[1]!.ready).toEqual({ ports: [], timeout: 60, interval: 5 });
  });

  it('takes Drone\'s ports: as the ports to probe, unless ready.ports says otherwise', () => {
    const p = pipelineOf(`kind: pipeline
services:
- name: cache
  image: redis
  commands: [redis-server --port 6380]
  ports: [6380]
- name: api
  image: my/api
  ports: [{ port: 8080, protocol: tcp }, 9090]
- name: db
  image: postgres
  ports: [5432]
  ready: { ports: [5433] }
steps: [{name: a, image: b}]
`);
    expect(p.services.map((s) => s.ready!.ports)).toEqual([[6380], [8080, 9090], [5433]]);
  });

  it('gives detached steps readiness and plain steps none', () => {
    const p = pipelineOf(`kind: pipeline
steps:
- name: db
  image: postgres
  detach: true
- name: test
  image: golang
`);
    expect(p.steps[0]!.ready).toEqual({ ports: [5432], timeout: 60, interval: 5 });
    expect(p.steps[1]!.ready).toBeUndefined();
  });
});

describe('loadManifest: pipeline fields', () => {
  it('reads every pipeline field', () => {
    const p = pipelineOf(`kind: pipeline
type: docker
name: full
platform: { os: linux, arch: arm64 }
workspace: { path: src/github.com/o/r }
clone: { disable: false, depth: 50, retries: 3, skip_verify: true, tags: true, submodules: true }
concurrency: { limit: 2 }
node: { instance: large }
image_pull_secrets: [dockerconfig]
environment: { GOOS: linux, KEY: { from_secret: key } }
resources: { cpu: 2048, memory: 4096 }
timeout: 30
volumes:
- name: cache
  temp: {}
- name: scratch
  temp:
trigger:
  branch: main
  event: [push, tag]
  ref: { include: [refs/tags/*], exclude: refs/tags/wip-* }
  repo: { exclude: [a/b] }
  action: opened
  cron: nightly
  instance: ci.example.com
  paths: { include: ['src/**'] }
  status: [success, failure]
  target: production
steps:
- name: a
  image: b
  volumes:
  - name: cache
    path: /root/.cache
`);
    expect(p.platform).toEqual({ os: 'linux', arch: 'arm64' });
    expect(p.workspace).toEqual({ base: '/drone/src', path: '/drone/src/src/github.com/o/r' });
    expect(p.clone).toEqual({ disable: false, depth: 50, retries: 3, skipVerify: true, tags: true, submodules: true });
    expect(p.concurrency).toEqual({ limit: 2 });
    expect(p.node).toEqual({ instance: 'large' });
    expect(p.imagePullSecrets).toEqual(['dockerconfig']);
    expect(p.environment).toEqual({ GOOS: { value: 'linux' }, KEY: { fromSecret: 'key' } });
    expect(p.resources).toEqual({ cpu: 2048, memory: 4096 });
    expect(p.timeout).toBe(30);
    expect(p.volumes).toEqual([
      { name: 'cache', temp: true, pos: { line: 14, column: 3 } },
      { name: 'scratch', temp: true, pos: { line: 16, column: 3 } },
    ]);
    expect(p.steps[0]!.volumes).toEqual([{ name: 'cache', path: '/root/.cache' }]);
    expect(p.trigger).toEqual({
      ...emptyConditions(),
      branch: { include: ['main'], exclude: [] },
      event: { include: ['push', 'tag'], exclude: [] },
      ref: { include: ['refs/tags/*'], exclude: ['refs/tags/wip-*'] },
      repo: { include: [], exclude: ['a/b'] },
      action: { include: ['opened'], exclude: [] },
      cron: { include: ['nightly'], exclude: [] },
      instance: { include: ['ci.example.com'], exclude: [] },
      paths: { include: ['src/**'], exclude: [] },
      status: { include: ['success', 'failure'], exclude: [] },
      target: { include: ['production'], exclude: [] },
    });
  });

  it.each([
    [{ path: '/go/src/app' }, '/go/src/app', '/go/src/app'],
    [{ path: 'app' }, '/drone/src/app', '/drone/src'],
    [{ base: '/go', path: 'src/app' }, '/go/src/app', '/go'],
    [{ base: '/go' }, '/go', '/go'],
    [{}, '/drone/src', '/drone/src'],
  ])("workspace %j works in %s with the volume at %s, by Drone's rule (drone-runner-docker engine/compiler/workspace.go)", (workspace, path, base) => {
    const p = pipelineOf(`kind: pipeline\nworkspace: ${JSON.stringify(workspace)}\nsteps: [{name: a, image: b}]\n`);
    expect(p.workspace).toEqual({ base, path });
  });

  it('reads when: on steps in the three Drone forms', () => {
    const p = pipelineOf(`kind: pipeline
steps:
- name: a
  image: b
  when:
    branch: main
- name: c
  image: d
  when:
    branch: [main, release/*]
- name: e
  image: f
  when:
    branch: { include: [main], exclude: [dev] }
    status: failure
`);
    expect(p.steps.map((s) => s.when.branch)).toEqual([
      { include: ['main'], exclude: [] },
      { include: ['main', 'release/*'], exclude: [] },
      { include: ['main'], exclude: ['dev'] },
    ]);
    expect(p.steps[2]!.when.status).toEqual({ include: ['failure'], exclude: [] });
  });

  it('keeps clone depth 0 (a full clone; unset is shallow, see DEFAULT_CLONE_DEPTH) and treats concurrency limit 0 as none', () => {
    const p = pipelineOf('kind: pipeline\nclone: {depth: 0}\nconcurrency: {limit: 0}\nsteps: [{name: a, image: b}]\n');
    expect(p.clone.depth).toBe(0);
    expect(pipelineOf('kind: pipeline\nsteps: [{name: a, image: b}]\n').clone.depth).toBeUndefined();
    expect(p.concurrency).toBeUndefined();
  });
});

describe('loadManifest: wrong types name the key, the place and what was expected', () => {
  const base = (body: string) => `kind: pipeline\nname: p\n${body}`;
  it.each([
    ['steps: 3\n', '3:8: error: steps: expected a list, got a number (3)'],
    ['steps:\n- just-a-name\n', '4:3: error: steps[0]: expected a map, got a string ("just-a-name")'],
    ['steps:\n- name: a\n', '4:3: error: steps[0]: missing "image" in step "a"'],
    ['steps:\n- image: alpine\n', '4:3: error: steps[0]: missing "name" in step'],
    ['steps:\n- name: ""\n  image: a\n', '4:9: error: steps[0].name: must not be empty'],
    ['steps:\n- name: a\n  image: [alpine]\n', '5:10: error: steps[0].image: expected a string, got a list'],
    ['steps:\n- name: a\n  image: b\n  commands: go test\n', '6:13: error: steps[0].commands: expected a list of strings (write [go test]), got a string ("go test")'],
    ['steps:\n- name: a\n  image: b\n  commands: [{x: 1}]\n', '6:14: error: steps[0].commands[0]: expected a string, got a map'],
    ['steps:\n- name: a\n  image: b\n  pull: sometimes\n', '6:9: error: steps[0].pull: expected "always", "never", "if-not-exists", "default", or true / false, got a string ("sometimes")'],
    ['steps:\n- name: a\n  image: b\n  failure: sometimes\n', '6:12: error: steps[0].failure: expected "always", "fail", "ignore", "fast", "fast-fail", "fail-fast" (fast, fast-fail and fail-fast are one policy), got a string ("sometimes")'],
    ['steps:\n- name: a\n  image: b\n  detach: maybe\n', '6:11: error: steps[0].detach: expected true or false, got a string ("maybe")'],
    ['steps:\n- name: a\n  image: b\n  environment: [A=1]\n', '6:16: error: steps[0].environment: expected a map, got a list'],
    ['steps:\n- name: a\n  image: b\n  environment:\n    A: { from_secret: [x] }\n', '7:23: error: steps[0].environment.A.from_secret: expected a string, got a list'],
    ['steps:\n- name: a\n  image: b\n  environment:\n    A: { value: x }\n', '7:8: error: steps[0].environment.A: expected a string, a number, a boolean or { from_secret: NAME }, got a map'],
    ['steps:\n- name: a\n  image: b\n  depends_on: build\n', '6:15: error: steps[0].depends_on: expected a list of strings (write [build]), got a string ("build")'],
    ['steps:\n- name: a\n  image: b\n  when: push\n', '6:9: error: steps[0].when: expected a map, got a string ("push")'],
    ['steps:\n- name: a\n  image: b\n  volumes: [{name: v, path: relative}]\n', '6:29: error: steps[0].volumes[0].path: expected an absolute path, got "relative"'],
    ['steps:\n- name: a\n  image: b\n  resources: { cpu: -1 }\n', '6:21: error: steps[0].resources.cpu: expected a whole number of at least 1, got a number (-1)'],
    ['services:\n- name: db\n  image: postgres\n  ready: { ports: [70000] }\n', '6:20: error: services[0].ready.ports[0]: expected a whole number from 1 to 65535, got a number (70000)'],
    ['services:\n- name: db\n  image: postgres\n  ready: { ports: [http] }\n', '6:20: error: services[0].ready.ports[0]: expected a whole number, got a string ("http")'],
    ['services:\n- name: db\n  image: postgres\n  ready: { timeout: 0 }\n', '6:21: error: services[0].ready.timeout: expected a whole number from 1 to 3600, got a number (0)'],
    ['timeout: 1.5\n', '3:10: error: timeout: expected a whole number, got a number (1.5)'],
    ['clone: { depth: shallow }\n', '3:17: error: clone.depth: expected a whole number, got a string ("shallow")'],
    ['concurrency: 2\n', '3:14: error: concurrency: expected a map, got a number (2)'],
    ['node: [a]\n', '3:7: error: node: expected a map, got a list'],
    ['image_pull_secrets: dockerconfig\n', '3:21: error: image_pull_secrets: expected a list of strings (write [dockerconfig]), got a string ("dockerconfig")'],
    ['trigger: { branch: { include: [{a: 1}] } }\n', '3:32: error: trigger.branch.include[0]: expected a string, got a map'],
    ['volumes: [{name: v}]\n', '3:11: error: volumes[0]: expected "temp: {}" (a task volume)'],
    ['environment: { A: [1] }\n', '3:19: error: environment.A: expected a string, a number, a boolean or { from_secret: NAME }, got a list'],
  ])('%j', (body, expected) => {
    const m = load(base(body));
    expect(errors(m)).toContain(`.drone.yml:${expected}`);
  });
});

it('rejects a pipeline name that is not a string', () => {
  expect(errors(load('kind: pipeline\nname: [x]\nsteps: [{name: a, image: b}]\n'))).toEqual(['.drone.yml:2:7: error: name: expected a string, got a list']);
});

describe('loadManifest: unknown keys are warnings', () => {
  it.each([
    ['kind: pipeline\nstpes: []\nsteps: [{name: a, image: b}]\n', '.drone.yml:2:1: warning: unknown key "stpes" in pipeline — did you mean "steps"?'],
    ['kind: pipeline\nsteps:\n- name: build\n  image: b\n  commands: [x]\n  comands: [y]\n', '.drone.yml:6:3: warning: steps[0]: unknown key "comands" in step "build" — did you mean "commands"?'],
    ['kind: pipeline\nservices:\n- name: db\n  image: postgres\n  healthcheck: [pg_isready]\nsteps: [{name: a, image: b}]\n', '.drone.yml:5:3: warning: services[0]: unknown key "healthcheck" in service "db" — a health command is ready: { command: "..." }'],
    ['kind: pipeline\nclone: { dept: 1 }\nsteps: [{name: a, image: b}]\n', '.drone.yml:2:10: warning: clone: unknown key "dept" in clone — did you mean "depth"?'],
    ['kind: pipeline\nanchors: {}\nsteps: [{name: a, image: b}]\n', '.drone.yml:2:1: warning: unknown key "anchors" in pipeline — keys that only hold YAML anchors can start with x- to be ignored'],
  ])('%j', (text, expected) => {
    const m = load(text);
    expect(warnings(m)).toEqual([expected]);
    expect(isValid(m)).toBe(true);
  });

  it.each([
    ['kind: pipeline\nsteps:\n- name: build\n  image: b\n  comands: [x]\n', '.drone.yml:5:3: error: steps[0]: unknown key "comands" in step "build" — did you mean "commands"? (without it the step "build" runs without its commands)'],
    ['kind: pipeline\nservices:\n- name: db\n  image: postgres\n  enviroment: { A: b }\nsteps: [{name: a, image: b}]\n', '.drone.yml:5:3: error: services[0]: unknown key "enviroment" in service "db" — did you mean "environment"? (without it the service "db" runs without its environment)'],
  ])('a step key misspelled where the step lacks the real one is an error (Drone would drop it and run the step without it): %j', (text, expected) => {
    const m = load(text);
    expect(errors(m)).toEqual([expected]);
    expect(isValid(m)).toBe(false);
  });

  it('ignores x- keys that carry anchors', () => {
    expect(lines(load('kind: pipeline\nx-defaults: &d {image: b}\nsteps: [{name: a, <<: *d}]\n'))).toEqual([]);
  });
});

describe('loadManifest: malformed and hostile input', () => {
  it('reports malformed YAML at the parser\'s line and column', () => {
    const m = load('kind: pipeline\nsteps:\n- name: a\n  image: [b\n');
    expect(isValid(m)).toBe(false);
    const first = m.diagnostics[0]!;
    expect(first.message).toMatch(/^yaml: /);
    expect(first.line).toBeGreaterThanOrEqual(4);
    expect(m.pipelines).toEqual([]);
  });

  // Drone reads files with go-yaml v2's non-strict Unmarshal (drone/runner-go manifest/parse.go,
  // github.com/buildkite/yaml): a repeated key is an error only in strict mode (decode.go,
  // setMapIndex); otherwise each occurrence is decoded in turn and the later one stays.
  it('uses the later value of a key written twice, as Drone does, and warns where', () => {
    const m = load('kind: pipeline\nname: a\nname: b\nsteps: [{name: a, image: b}]\n');
    expect(errors(m)).toEqual([]);
    expect(warnings(m)).toContain('.drone.yml:3:1: warning: yaml: "name" is written twice (first at line 2): the later value is used, as Drone uses it');
    expect(m.pipelines.map((p) => p.name)).toEqual(['b']);
  });

  // Diesel-Net/fluentd (test/fixtures/corpus): an empty `steps:` left above the real one.
  it('runs the steps of a later `steps:` when an empty one is written above it', () => {
    const p = pipelineOf('kind: pipeline\nname: a\nsteps:\n\nsteps:\n- name: build\n  image: alpine\n  commands: [true]\n');
    expect(p.steps.map((s) => s.name)).toEqual(['build']);
    expect(p.steps[0]!.commands).toEqual(['true']);
  });

  it('keeps the later of a key written twice in environment or settings', () => {
    const s = step('- name: a\n  image: b\n  environment:\n    FOO: one\n    FOO: two\n  commands: [x]\n');
    expect(s.environment).toEqual({ FOO: { value: 'two' } });
  });

  // Two maps under one key: go-yaml v2.1.0 (github.com/buildkite/yaml decode.go) decodes the
  // second into the place the first filled. A struct field (when:, trigger:, clone:) or a map
  // field (node:, environment:, settings:) keeps entries of both, the later winning a key set
  // in both (mappingStruct; mapping() reuses a non-nil map); a value inside a Go map is a fresh
  // element, so the later replaces it; a condition's UnmarshalYAML (runner-go manifest/cond.go)
  // sets include and exclude anew.
  describe('a map written twice under one key, as go-yaml decode.go reads it into Drone\'s types', () => {
    it('merges a step\'s when: written twice, the later condition winning, and warns at the later key', () => {
      const m = load('kind: pipeline\nname: a\nsteps:\n- name: a\n  image: b\n  commands: [x]\n  when: {branch: [main], event: [tag]}\n  when: {event: [push]}\n');
      expect(errors(m)).toEqual([]);
      expect(warnings(m)).toContain('.drone.yml:8:3: warning: yaml: "when" is written twice (first at line 7): both maps are read into one (the later\'s value where both set a key), as Drone reads them');
      const when = m.pipelines[0]!.steps[0]!.when;
      expect(when.branch).toEqual({ include: ['main'], exclude: [] });
      expect(when.event).toEqual({ include: ['push'], exclude: [] });
    });

    // DayMarket/ml-feature-platform (test/fixtures/corpus): two pipelines without a `---`, so
    // `node:` (resource.Pipeline's map[string]string) is written twice.
    it('merges node: (a map field) written twice, keys of both kept', () => {
      const p = pipelineOf('kind: pipeline\nname: a\nnode: {type: um-common, zone: a}\nnode: {type: other}\nsteps: [{name: a, image: b, commands: [x]}]\n');
      expect(p.node).toEqual({ type: 'other', zone: 'a' });
    });

    it('merges environment: written twice on a step, and trigger: on the pipeline', () => {
      const m = load('kind: pipeline\nname: a\ntrigger: {branch: [main]}\ntrigger: {event: [push]}\nsteps:\n- name: a\n  image: b\n  commands: [x]\n  environment: {A: one, B: two}\n  environment: {B: three}\n');
      expect(errors(m)).toEqual([]);
      const p = m.pipelines[0]!;
      expect(p.steps[0]!.environment).toEqual({ A: { value: 'one' }, B: { value: 'three' } });
      expect(p.trigger.branch.include).toEqual(['main']);
      expect(p.trigger.event.include).toEqual(['push']);
    });

    it('replaces a map that is a value inside a Go map (a setting written twice)', () => {
      const s = step('- name: a\n  image: b\n  settings:\n    opts: {a: 1}\n    opts: {b: 2}\n');
      expect(s.settings.opts).toEqual({ value: { b: 2 } });
    });

    it('replaces a condition written twice, but keeps an earlier exclude under a single pattern (manifest/cond.go)', () => {
      const both = load('kind: pipeline\nname: a\nsteps:\n- name: a\n  image: b\n  commands: [x]\n  when:\n    branch: {include: [a], exclude: [x]}\n    branch: {include: [b]}\n');
      expect(both.pipelines[0]!.steps[0]!.when.branch).toEqual({ include: ['b'], exclude: [] });
      const single = load('kind: pipeline\nname: a\nsteps:\n- name: a\n  image: b\n  commands: [x]\n  when:\n    branch: {exclude: [x]}\n    branch: main\n');
      expect(errors(single)).toEqual([]);
      expect(warnings(single)).toContain('.drone.yml:9:5: warning: yaml: "branch" is written twice (first at line 8): the later value is used and the earlier exclude is kept, as Drone reads a condition');
      expect(single.pipelines[0]!.steps[0]!.when.branch).toEqual({ include: ['main'], exclude: ['x'] });
    });

    it('merges clone: (a struct of scalars) written twice, fields of both kept', () => {
      const p = pipelineOf('kind: pipeline\nname: a\nclone: {depth: 5}\nclone: {disable: true}\nsteps: [{name: a, image: b, commands: [x]}]\n');
      expect(p.clone.disable).toBe(true);
      expect(p.clone.depth).toBe(5);
    });
  });

  it('still refuses a merge key written twice', () => {
    const m = load('x: &d {image: b}\nkind: pipeline\nname: a\nsteps: [{name: a, <<: *d, <<: *d, commands: [x]}]\n');
    expect(errors(m)).toEqual(['.drone.yml:4:27: error: yaml: Map keys must be unique']);
  });

  it('reports an unknown alias', () => {
    expect(errors(load('kind: pipeline\nsteps: [{name: a, image: *img}]\n'))).toContain('.drone.yml:2:26: error: yaml: unknown alias *img');
  });

  it('stops an alias bomb quickly with a clear error', () => {
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 12; i++) {
      const prev = String.fromCharCode(96 + i);
      levels.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    const started = performance.now();
    const m = load(`kind: pipeline\n${levels.join('\n')}\nsteps: [{name: a, image: b}]\n`);
    expect(performance.now() - started).toBeLessThan(5_000); // a hang would be minutes
    expect(errors(m)).toEqual([expect.stringMatching(/^\.drone\.yml:1:1: error: yaml: the file expands to more than 100000 nodes/)]);
  });

  it('refuses a self-referencing alias', () => {
    const m = load('kind: pipeline\nx: &a [1, *a]\nsteps: [{name: a, image: b}]\n');
    expect(isValid(m)).toBe(false);
  });

  it('refuses a 10 MB file by its size', () => {
    const text = `kind: pipeline\n# ${'x'.repeat(10 * 1024 * 1024)}\n`;
    const bytes = new TextEncoder().encode(text).length;
    expect(lines(load(text))).toEqual([`.drone.yml:1:1: error: file is ${bytes} bytes; the limit is 1048576 bytes (1 MiB)`]);
  });

  it('counts bytes, not characters, against the limit', () => {
    const text = `kind: pipeline\n# ${'é'.repeat(600 * 1024)}\n`;
    expect(errors(load(text))[0]).toMatch(/error: file is \d+ bytes; the limit is 1048576 bytes/);
  });

  it('refuses deep nesting', () => {
    const m = load(`kind: pipeline\nx: ${'['.repeat(100)}${']'.repeat(100)}\nsteps: [{name: a, image: b}]\n`);
    expect(errors(m)).toEqual(['.drone.yml:1:1: error: yaml: nesting deeper than 64 levels']);
  });

  it('refuses very deep nesting that the YAML parser cannot follow', () => {
    const m = load(`x: ${'['.repeat(20_000)}${']'.repeat(20_000)}\n`);
    expect(isValid(m)).toBe(false);
    expect(m.diagnostics[0]!.message).toMatch(/nesting/);
  });

  it('refuses binary junk with the position of the first control character', () => {
    expect(errors(load('kind: pipeline\nname: a\u0000b\n'))).toEqual([
      '.drone.yml:2:8: error: control character U+0000 is not allowed in YAML (is this a binary file?)',
    ]);
  });

  it('refuses bytes that are not UTF-8, pointing at the first bad byte', () => {
    const bytes = new Uint8Array([...new TextEncoder().encode('kind: pipeline\nname: '), 0xff, 0x41, 0x0a]);
    expect(lines(loadManifestBytes(FILE, bytes))).toEqual(['.drone.yml:2:7: error: file is not UTF-8 text: invalid byte 0xFF']);
  });

  it('accepts a byte order mark', () => {
    const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode('kind: pipeline\nsteps: [{name: a, image: b}]\n')]);
    expect(isValid(loadManifestBytes(FILE, bytes))).toBe(true);
  });
});

describe('loadManifest: legacy forms Drone still reads', () => {
  const stepWith = (field: string) => `kind: pipeline\nsteps:\n- name: a\n  image: b\n  ${field}\n`;

  it.each([
    ['pull: true', 'always'],
    ['pull: yes', 'always'],
    ['pull: false', 'if-not-exists'],
    ['pull: Always', 'always'],
    ['pull: IF-NOT-EXISTS', 'if-not-exists'],
  ])("%s is pull policy %s (drone-yaml's legacy converter; drone-runner-docker lower-cases the value)", (field, policy) => {
    expect(pipelineOf(stepWith(field)).steps[0]!.pull).toBe(policy);
  });

  it.each([
    ['failure: ignore', 'ignore'],
    ['failure: IGNORE', 'ignore'],
    ['failure: always', 'always'],
    ['failure: fail', 'always'],
    ['failure: fast', 'fail-fast'],
    ['failure: fast-fail', 'fail-fast'],
    ['failure: fail-fast', 'fail-fast'],
  ])('%s is failure policy %s (drone-runner-docker engine/compiler/step.go, runner-go pipeline/runtime/const.go)', (field, policy) => {
    expect(pipelineOf(stepWith(field)).steps[0]!.failure).toBe(policy);
  });

  it('still refuses a value Drone would not know, saying which it reads', () => {
    const m = loadManifest('.drone.yml', stepWith('failure: sometimes'));
    expect(m.diagnostics.map(formatDiagnostic).join('\n')).toMatch(/\.drone\.yml:5:12: error: .*failure.*"fast-fail"/);
    const p = loadManifest('.drone.yml', stepWith('pull: maybe'));
    expect(p.diagnostics.map(formatDiagnostic).join('\n')).toMatch(/\.drone\.yml:5:9: error: .*pull.*true \/ false/);
  });
});
