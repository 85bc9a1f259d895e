import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../core/pipeline/format.js';
import { findCycles, LINT } from '../../core/pipeline/lint.js';
import { isValid, loadManifest } from '../../core/pipeline/load.js';

const load = (text: string) => loadManifest('.drone.yml', text);
const lines = (text: string) => load(text).diagnostics.map(formatDiagnostic);

describe('lint: each rule, where it points and what it says', () => {
  it.each([
    [
      'duplicate step names',
      'kind: pipeline\nsteps:\n- name: a\n  image: b\n- name: a\n  image: c\n',
      ['.drone.yml:5:9: error: steps[1].name: duplicate step name "a" (first at line 3); steps and services share one set of names'],
    ],
    [
      'a step named like a service',
      'kind: pipeline\nservices:\n- name: db\n  image: redis\nsteps:\n- name: db\n  image: b\n',
      ['.drone.yml:6:9: error: steps[0].name: duplicate step name "db" (first at line 3); steps and services share one set of names'],
    ],
    // drone-runner-docker engine/linter/linter.go (checkSteps): "clone" is taken while the clone
    // is on, for services as for steps; Drone fails the stage with "linter: duplicate step names".
    [
      'a step named clone while the clone runs',
      'kind: pipeline\nsteps:\n- name: clone\n  image: alpine/git\n',
      ['.drone.yml:3:9: error: steps[0].name: step name reserved: "clone" is the clone step\'s name, which Drone refuses too ("linter: duplicate step names"); rename this step or set clone: { disable: true }'],
    ],
    [
      'a service named clone while the clone runs',
      'kind: pipeline\nservices:\n- name: clone\n  image: redis\nsteps:\n- name: a\n  image: b\n',
      ['.drone.yml:3:9: error: services[0].name: step name reserved: "clone" is the clone step\'s name, which Drone refuses too ("linter: duplicate step names"); rename this service or set clone: { disable: true }'],
    ],
    [
      'a name with no letter or digit',
      'kind: pipeline\nsteps:\n- name: "🚀 ✨"\n  image: b\n',
      ['.drone.yml:3:9: error: steps[0].name: name cannot become a container name: "🚀 ✨" (use up to 100 characters with at least one letter or digit, no control characters)'],
    ],
    [
      'a name with a control character',
      'kind: pipeline\nsteps:\n- name: "a\\tb"\n  image: b\n',
      ['.drone.yml:3:9: error: steps[0].name: name cannot become a container name: "a\\x09b" (use up to 100 characters with at least one letter or digit, no control characters)'],
    ],
    [
      'duplicate pipeline names',
      'kind: pipeline\nname: x\nsteps: [{name: a, image: b}]\n---\nkind: pipeline\nname: x\nsteps: [{name: a, image: b}]\n',
      ['.drone.yml:6:7: error: name: duplicate pipeline name "x" (first at line 1)'],
    ],
    [
      'depends_on an unknown step',
      'kind: pipeline\nsteps:\n- name: build\n  image: b\n- name: test\n  image: b\n  depends_on: [biuld]\n',
      ['.drone.yml:7:16: error: steps[1].depends_on[0]: unknown step "biuld" — did you mean "build"?'],
    ],
    [
      'a step cycle',
      'kind: pipeline\nsteps:\n- name: a\n  image: b\n  depends_on: [c]\n- name: b\n  image: b\n  depends_on: [a]\n- name: c\n  image: b\n  depends_on: [b]\n',
      ['.drone.yml:5:3: error: steps[0].depends_on: step dependency cycle: a → c → b → a'],
    ],
    [
      'a step that depends on itself',
      'kind: pipeline\nsteps:\n- name: a\n  image: b\n  depends_on: [a]\n',
      ['.drone.yml:5:3: error: steps[0].depends_on: step dependency cycle: a → a'],
    ],
    [
      'depends_on an unknown pipeline',
      'kind: pipeline\nname: deploy\ndepends_on: [tests]\nsteps: [{name: a, image: b}]\n---\nkind: pipeline\nname: test\nsteps: [{name: a, image: b}]\n',
      ['.drone.yml:3:14: error: depends_on[0]: unknown pipeline "tests" — did you mean "test"?'],
    ],
    // Drone drops a skipped pipeline from the graph (drone/drone trigger/trigger.go, dag.go):
    // a note, not an error, and its dependent waits for what it waited for.
    [
      'depends_on a pipeline of another runner',
      'kind: pipeline\nname: deploy\ndepends_on: [mac]\nsteps: [{name: a, image: b}]\n---\nkind: pipeline\ntype: exec\nname: mac\nsteps: [{name: a, commands: [x]}]\n',
      ['.drone.yml:3:14: note: depends_on[0]: depends on a skipped pipeline: "mac" is skipped (type "exec" runs on another runner), so "deploy" does not wait for it and starts with the build, as in Drone'],
    ],
    [
      'depends_on a 32-bit ARM pipeline, which depends on another',
      'kind: pipeline\nname: build\nsteps: [{name: a, image: b}]\n---\nkind: pipeline\nname: arm\nplatform: {arch: arm}\ndepends_on: [build]\nsteps: [{name: a, image: b}]\n---\nkind: pipeline\nname: notify\ndepends_on: [arm]\nsteps: [{name: a, image: b}]\n',
      ['.drone.yml:13:14: note: depends_on[0]: depends on a skipped pipeline: "arm" is skipped (platform arch "arm" runs on another runner: Fargate runs amd64 and arm64 (Fargate has no 32-bit ARM)), so "notify" does not wait for it and waits for "build", as in Drone'],
    ],
    [
      'a pipeline cycle through a skipped pipeline',
      'kind: pipeline\nname: a\ndepends_on: [mac]\nsteps: [{name: s, image: i}]\n---\nkind: pipeline\ntype: exec\nname: mac\ndepends_on: [a]\nsteps: [{name: s, commands: [x]}]\n',
      [
        '.drone.yml:3:1: error: depends_on: pipeline dependency cycle: a → mac → a',
        '.drone.yml:3:14: note: depends_on[0]: depends on a skipped pipeline: "mac" is skipped (type "exec" runs on another runner), so "a" does not wait for it and starts with the build, as in Drone',
      ],
    ],
    [
      'a pipeline cycle',
      'kind: pipeline\nname: a\ndepends_on: [b]\nsteps: [{name: s, image: i}]\n---\nkind: pipeline\nname: b\ndepends_on: [a]\nsteps: [{name: s, image: i}]\n',
      ['.drone.yml:3:1: error: depends_on: pipeline dependency cycle: a → b → a'],
    ],
    [
      'privileged',
      'kind: pipeline\nsteps:\n- name: build\n  image: b\n  privileged: true\n',
      ['.drone.yml:5:15: error: steps[0].privileged: Fargate cannot run privileged containers; build images with plugins/docker, which Slipway runs without privileges (kaniko), or run the pipeline on EC2 capacity, which an operator allows per trusted repository (slipway repo update OWNER/NAME --trusted; never for pull requests from forks)'],
    ],
    [
      'a plugin that needs a Docker daemon (heroku)',
      'kind: pipeline\nsteps:\n- name: deploy\n  image: plugins/heroku:1\n',
      ['.drone.yml:4:10: error: steps[0].image: Fargate has no Docker daemon for plugins/heroku:1 (it runs privileged); build images with plugins/docker, which Slipway runs without a daemon (kaniko), or run the pipeline on EC2 capacity, which an operator allows per trusted repository (slipway repo update OWNER/NAME --trusted; never for pull requests from forks)'],
    ],
    [
      'the docker plugin with commands: its own image runs, which needs its daemon',
      'kind: pipeline\nsteps:\n- name: image\n  image: plugins/docker:20\n  commands: [docker build .]\n',
      ['.drone.yml:4:10: error: steps[0].image: Fargate has no Docker daemon for plugins/docker:20 (it runs privileged); drop commands: and give settings: (repo, tags, …): Slipway runs plugins/docker without a daemon (kaniko), or run the pipeline on EC2 capacity, which an operator allows per trusted repository (slipway repo update OWNER/NAME --trusted; never for pull requests from forks)'],
    ],
    [
      'the docker plugin: it runs daemonless (image-build.ts), so privileged on it is no error',
      'kind: pipeline\nsteps:\n- name: image\n  image: plugins/docker:20\n  privileged: true\n  settings: {repo: org/app}\n',
      [],
    ],
    [
      'a docker-in-docker service',
      'kind: pipeline\nservices:\n- name: docker\n  image: docker:dind\nsteps: [{name: a, image: b}]\n',
      [
        '.drone.yml:4:10: error: services[0].image: Fargate has no Docker daemon for docker:dind (it runs privileged); build images with plugins/docker, which Slipway runs without a daemon (kaniko), or run the pipeline on EC2 capacity, which an operator allows per trusted repository (slipway repo update OWNER/NAME --trusted; never for pull requests from forks)',
        '.drone.yml:4:10: warning: services[0]: no readiness check: Slipway does not know the port of docker:dind, so steps may start before "docker" is ready; declare ready: { ports: [...] } or ready: { command: ... }',
      ],
    ],
    [
      'a service of an unknown image with no readiness check',
      'kind: pipeline\nservices:\n- name: api\n  image: my/api:1\nsteps: [{name: a, image: b}]\n',
      ['.drone.yml:4:10: warning: services[0]: no readiness check: Slipway does not know the port of my/api:1, so steps may start before "api" is ready; declare ready: { ports: [...] } or ready: { command: ... }'],
    ],
    [
      'a docker pipeline named like a skipped one',
      'kind: pipeline\ntype: exec\nname: x\nsteps: [{name: a, commands: [b]}]\n---\nkind: pipeline\nname: x\nsteps: [{name: a, image: b}]\n',
      ['.drone.yml:7:7: error: name: duplicate pipeline name "x" (first at line 1)'],
    ],
    [
      'an empty steps list',
      'kind: pipeline\nname: empty\nsteps: []\n',
      ['.drone.yml:1:1: warning: pipeline has no steps: pipeline "empty" runs nothing'],
    ],
    [
      'a host volume',
      'kind: pipeline\nvolumes:\n- name: cache\n  host: { path: /tmp/cache }\nsteps:\n- name: a\n  image: b\n  volumes: [{name: cache, path: /cache}]\n',
      ['.drone.yml:4:3: error: volumes[0].host: Fargate has no host volumes; use "temp: {}" for a volume the steps share'],
    ],
    [
      'the docker socket as a host volume',
      'kind: pipeline\nvolumes:\n- name: docker\n  host:\n    path: /var/run/docker.sock\nsteps:\n- name: a\n  image: b\n  volumes: [{name: docker, path: /var/run/docker.sock}]\n',
      [
        '.drone.yml:4:3: error: volumes[0].host: Fargate has no Docker engine (no /var/run/docker.sock); build images with plugins/docker, which Slipway runs without privileges (kaniko), or run the pipeline on EC2 capacity, which an operator allows per trusted repository (slipway repo update OWNER/NAME --trusted; never for pull requests from forks)',
        '.drone.yml:9:20: error: steps[0].volumes[0]: Fargate has no Docker engine to mount at /var/run/docker.sock; build images with plugins/docker, which Slipway runs without privileges (kaniko), or run the pipeline on EC2 capacity, which an operator allows per trusted repository (slipway repo update OWNER/NAME --trusted; never for pull requests from forks)',
      ],
    ],
    [
      'a mount of an undeclared volume',
      'kind: pipeline\nvolumes: [{name: cache, temp: {}}]\nsteps:\n- name: a\n  image: b\n  volumes: [{name: cahce, path: /c}]\n',
      ['.drone.yml:6:20: error: steps[0].volumes[0]: unknown volume "cahce" — did you mean "cache"? (declare it under the pipeline\'s volumes: with temp: {})'],
    ],
    [
      'a reserved volume name',
      'kind: pipeline\nvolumes: [{name: workspace, temp: {}}]\nsteps: [{name: a, image: b}]\n',
      ['.drone.yml:2:18: error: volumes[0].name: volume name reserved: "workspace" is used by Slipway; choose another name'],
    ],
    [
      'a mount at the agent\'s state directory',
      'kind: pipeline\nvolumes: [{name: v, temp: {}}]\nsteps:\n- name: a\n  image: b\n  volumes: [{name: v, path: /slipway/x}]\n',
      ['.drone.yml:6:20: error: steps[0].volumes[0]: path reserved: /slipway/x is reserved for the runner; mount elsewhere'],
    ],
    [
      'two services on one default port',
      'kind: pipeline\nservices:\n- name: cache\n  image: redis\n- name: cache2\n  image: redis:7\nsteps: [{name: a, image: b}]\n',
      ['.drone.yml:6:10: error: services[1]: port already taken: "cache2" and "cache" cannot both listen on localhost:6379 (the default port of redis:7); the containers of one task share one network — run one on another port and declare it in ready: { ports: [...] }'],
    ],
    [
      'a service and a detached step on one declared port',
      'kind: pipeline\nservices:\n- name: api\n  image: my/api\n  ready: { ports: [8080] }\nsteps:\n- name: mock\n  image: my/mock\n  detach: true\n  ready: { ports: [9090, 8080] }\n',
      ['.drone.yml:10:26: error: steps[0].ready.ports: port already taken: "mock" and "api" cannot both listen on localhost:8080; the containers of one task share one network — run one on another port and declare it in ready: { ports: [...] }'],
    ],
    [
      'ports on a plain step',
      'kind: pipeline\nsteps:\n- name: server\n  image: b\n  ports: [80]\n',
      ['.drone.yml:5:3: warning: steps[0].ports: applies only to services and detached steps; add detach: true to run "server" in the background'],
    ],
    [
      'a host port mapping',
      'kind: pipeline\nservices:\n- name: web\n  image: nginx\n  ports: [{port: 80, host: 8080}]\nsteps: [{name: a, image: b}]\n',
      ['.drone.yml:5:22: warning: services[0].ports[0].host: ignored on Fargate: the containers of one task share localhost; there is no host port to map'],
    ],
    [
      'two services declaring one port with Drone\'s ports:',
      'kind: pipeline\nservices:\n- name: a\n  image: my/a\n  ports: [8080]\n- name: b\n  image: my/b\n  ports: [{port: 8080}]\nsteps: [{name: s, image: i}]\n',
      ['.drone.yml:8:11: error: services[1].ports: port already taken: "b" and "a" cannot both listen on localhost:8080; the containers of one task share one network — run one on another port and declare it in ready: { ports: [...] }'],
    ],
    [
      'detach on a service',
      'kind: pipeline\nservices:\n- name: db\n  image: postgres\n  detach: true\nsteps: [{name: a, image: b}]\n',
      ['.drone.yml:5:3: warning: services[0].detach: detach has no effect on a service; services always run in the background'],
    ],
    [
      'depends_on on a service',
      'kind: pipeline\nservices:\n- name: db\n  image: postgres\n  depends_on: [clone]\nsteps: [{name: a, image: b}]\n',
      ['.drone.yml:5:3: warning: services[0].depends_on: depends_on has no effect on a service: services start with the task, before any step'],
    ],
    [
      'ready on a plain step',
      'kind: pipeline\nsteps:\n- name: server\n  image: b\n  ready: { ports: [80] }\n',
      ['.drone.yml:5:3: warning: steps[0].ready: applies only to services and detached steps; add detach: true to run "server" in the background'],
    ],
    [
      'an encrypted secret',
      'kind: pipeline\nsteps: [{name: a, image: b}]\n---\nkind: secret\nname: token\ndata: c2VjcmV0\n',
      ['.drone.yml:6:1: error: data: encrypted secrets (data:) are not supported; store "token" in Slipway\'s secret store (SSM Parameter Store) and use from_secret: token in the step'],
    ],
    // drone/runner-go secret/external.go getExternal reads the first document of a name; no
    // linter of Drone's rejects a repeat (BerlingskeMedia/ci.images repeats one, identically).
    [
      'duplicate secrets',
      'kind: pipeline\nsteps: [{name: a, image: b}]\n---\nkind: secret\nname: t\nget: {path: a}\n---\nkind: secret\nname: t\nget: {path: b}\n',
      ['.drone.yml:9:7: warning: name: duplicate secret name "t" (first at line 4): as in Drone, the first document of a name is the one read, so this one is ignored'],
    ],
    [
      'extra_hosts',
      'kind: pipeline\nsteps:\n- name: a\n  image: b\n  extra_hosts: ["db:127.0.0.1"]\n',
      ['.drone.yml:5:3: error: steps[0].extra_hosts: not supported on Fargate: ECS does not allow extra hosts with awsvpc; services and detached steps are reachable by name already'],
    ],
    [
      'network_mode',
      'kind: pipeline\nsteps:\n- name: a\n  image: b\n  network_mode: host\n',
      ['.drone.yml:5:3: error: steps[0].network_mode: not supported on Fargate: all containers of a Fargate task share one awsvpc network'],
    ],
    [
      'devices',
      'kind: pipeline\nsteps:\n- name: a\n  image: b\n  devices: [{name: d, path: /dev/kvm}]\n',
      ['.drone.yml:5:3: error: steps[0].devices: not supported on Fargate: Fargate cannot map host devices into a container'],
    ],
    [
      'mem_limit',
      'kind: pipeline\nsteps:\n- name: a\n  image: b\n  mem_limit: 1g\n',
      ['.drone.yml:5:3: warning: steps[0].mem_limit: ignored on Fargate: use resources: { memory: MiB } instead'],
    ],
    [
      'an in-memory temp volume',
      'kind: pipeline\nvolumes:\n- name: v\n  temp: { medium: memory }\nsteps: [{name: a, image: b}]\n',
      ['.drone.yml:4:19: warning: volumes[0].temp.medium: ignored on Fargate: Fargate has no in-memory volumes; this volume is disk-backed'],
    ],
    [
      'resources beyond the largest task',
      'kind: pipeline\nresources: { cpu: 32768, memory: 131072 }\nsteps: [{name: a, image: b}]\n',
      [
        '.drone.yml:2:19: error: resources.cpu: larger than Fargate allows: at most 16384 CPU units (16 vCPU) per task',
        '.drone.yml:2:34: error: resources.memory: larger than Fargate allows: at most 122880 MiB (120 GiB) per task',
      ],
    ],
    [
      'task storage beyond what ECS accepts (ephemeralStorage 21 to 200 GiB)',
      'kind: pipeline\nresources: { storage: 201 }\nsteps: [{name: a, image: b}]\n',
      ['.drone.yml:2:23: error: resources.storage: larger than Fargate allows: 201 GiB; a task\'s ephemeral storage is at most 200 GiB (for more, keep caches in S3 or EFS)'],
    ],
    [
      'task storage below what ECS accepts (20 GiB is the default without it)',
      'kind: pipeline\nresources:\n  storage: 20Gi\nsteps: [{name: a, image: b}]\n',
      ['.drone.yml:3:12: error: resources.storage: smaller than Fargate allows: 20 GiB; ECS accepts 21 to 200 GiB (without resources.storage every task has 20 GiB)'],
    ],
    [
      'storage on a step: it is the whole task\'s',
      'kind: pipeline\nsteps:\n- name: a\n  image: b\n  resources: { storage: 50 }\n',
      ['.drone.yml:5:16: error: steps[0].resources.storage: storage belongs to the whole task (every image and the workspace share it), not to one step: set resources: { storage: GiB } on the pipeline'],
    ],
    [
      'storage that is not a number of GiB',
      'kind: pipeline\nresources: { storage: 50GB }\nsteps: [{name: a, image: b}]\n',
      ['.drone.yml:2:23: error: resources.storage: expected a whole number of GiB (50, or 50Gi), got a string ("50GB")'],
    ],
    [
      'a misspelt event',
      'kind: pipeline\ntrigger:\n  event: [push, pull-request]\nsteps: [{name: a, image: b}]\n',
      ['.drone.yml:3:10: warning: trigger.event: unknown value "pull-request" (expected push, pull_request, tag, promote, rollback, cron, custom) — did you mean "pull_request"?'],
    ],
    [
      'an unknown status',
      'kind: pipeline\nsteps:\n- name: a\n  image: b\n  when: { status: [failed] }\n',
      ['.drone.yml:5:19: warning: steps[0].when.status: unknown value "failed" (expected success, failure)'],
    ],
    [
      'mounts at the agent\'s state directory spelt another way (//, ., ..)',
      'kind: pipeline\nvolumes: [{name: v, temp: {}}, {name: w, temp: {}}, {name: u, temp: {}}]\nsteps:\n- name: a\n  image: b\n  volumes: [{name: v, path: //slipway/x}, {name: w, path: /tmp/../slipway}, {name: u, path: /./slipway/./x/}]\n',
      [
        '.drone.yml:6:20: error: steps[0].volumes[0]: path reserved: //slipway/x is reserved for the runner; mount elsewhere',
        '.drone.yml:6:50: error: steps[0].volumes[1]: path reserved: /tmp/../slipway is reserved for the runner; mount elsewhere',
        '.drone.yml:6:84: error: steps[0].volumes[2]: path reserved: /./slipway/./x/ is reserved for the runner; mount elsewhere',
      ],
    ],
    [
      'a workspace inside the agent\'s directory spelt with ..',
      'kind: pipeline\nworkspace: { path: /drone/../slipway/src }\nsteps: [{name: a, image: b}]\n',
      ['.drone.yml:2:12: error: workspace: path reserved: /slipway/src is reserved for the runner; choose another path'],
    ],
    [
      'a workspace inside the agent\'s directory',
      'kind: pipeline\nworkspace: { path: /slipway/src }\nsteps: [{name: a, image: b}]\n',
      ['.drone.yml:2:12: error: workspace: path reserved: /slipway/src is reserved for the runner; choose another path'],
    ],
    [
      'a pipeline without steps',
      'kind: pipeline\nname: empty\n',
      ['.drone.yml:1:1: warning: pipeline has no steps: pipeline "empty" runs nothing'],
    ],
  ])('%s', (_rule, text, expected) => {
    expect(lines(text)).toEqual(expected);
  });
});

describe('lint: what Drone allows stays allowed', () => {
  it.each([
    ['commands on a service', 'kind: pipeline\nservices:\n- name: db\n  image: postgres\n  commands: [docker-entrypoint.sh postgres]\nsteps: [{name: a, image: b}]\n'],
    ['depends_on clone and a service', 'kind: pipeline\nservices: [{name: db, image: postgres}]\nsteps:\n- name: a\n  image: b\n  depends_on: [clone, db]\n'],
    ['a forward reference without a cycle', 'kind: pipeline\nsteps:\n- name: a\n  image: b\n  depends_on: [c]\n- name: c\n  image: d\n'],
    ['a step named clone when the clone is disabled', 'kind: pipeline\nclone: { disable: true }\nsteps: [{name: clone, image: alpine/git}]\n'],
    ['from_secret naming any secret', 'kind: pipeline\nsteps:\n- name: a\n  image: b\n  environment: { T: { from_secret: anything } }\n  settings: { k: { from_secret: other } }\n'],
    ['two services on different ports', 'kind: pipeline\nservices: [{name: db, image: postgres}, {name: cache, image: redis}]\nsteps: [{name: a, image: b}]\n'],
    ['a second redis moved to another port', 'kind: pipeline\nservices:\n- name: a\n  image: redis\n- name: b\n  image: redis\n  commands: [redis-server --port 6380]\n  ready: { ports: [6380] }\nsteps: [{name: s, image: i}]\n'],
    ['glob patterns in event conditions', 'kind: pipeline\ntrigger: { event: { exclude: ["pull_*"] } }\nsteps: [{name: a, image: b}]\n'],
    ['pipelines depending on each other in a chain', 'kind: pipeline\nname: a\nsteps: [{name: s, image: i}]\n---\nkind: pipeline\nname: b\ndepends_on: [a]\nsteps: [{name: s, image: i}]\n'],
    ['a kaniko build', 'kind: pipeline\nsteps:\n- name: image\n  image: plugins/kaniko\n  settings: { repo: o/r, tags: [latest] }\n'],
  ])('%s', (_label, text) => {
    const m = load(text);
    expect(m.diagnostics.map(formatDiagnostic)).toEqual([]);
    expect(isValid(m)).toBe(true);
  });
});

describe('lint: rules keep running past shape errors', () => {
  it('reports a type error and a Fargate error in one run', () => {
    const m = load('kind: pipeline\nsteps:\n- name: a\n  image: [b]\n  privileged: true\n');
    expect(m.diagnostics.map((d) => d.message)).toEqual([
      'steps[0].image: expected a string, got a list',
      `steps[0].privileged: ${LINT.privileged}; build images with plugins/docker, which Slipway runs without privileges (kaniko), or run the pipeline on EC2 capacity, which an operator allows per trusted repository (slipway repo update OWNER/NAME --trusted; never for pull requests from forks)`,
    ]);
  });
});

describe('findCycles', () => {
  const graph = (edges: Record<string, string[]>) => findCycles(Object.keys(edges), (n) => edges[n] ?? []);
  it.each([
    [{ a: [], b: ['a'] }, []],
    [{ a: ['a'] }, [['a', 'a']]],
    [{ a: ['b'], b: ['a'] }, [['a', 'b', 'a']]],
    [{ a: ['b'], b: ['c'], c: ['b'], d: ['d'] }, [['b', 'c', 'b'], ['d', 'd']]],
    [{ a: ['x'], x: [] }, []],
    [{ a: ['unknown'] }, []],
  ])('%j → %j', (edges, cycles) => {
    expect(graph(edges as Record<string, string[]>)).toEqual(cycles);
  });

  it('follows a chain of 100000 without overflowing the stack', () => {
    const names = Array.from({ length: 100_000 }, (_, i) => `s${i}`);
    expect(findCycles(names, (n) => (n === 's0' ? ['s99999'] : [`s${Number(n.slice(1)) - 1}`]))).toHaveLength(1);
  });
});

describe('lint: what the compiler would refuse, said early', () => {
  const errors = (text: string) => load(text).diagnostics.filter((d) => d.severity === 'error').map((d) => d.message);
  const warnings = (text: string) => load(text).diagnostics.filter((d) => d.severity === 'warning').map((d) => d.message);

  it('counts containers as the compiler does: 12 DAG steps of different images are too many', () => {
    const steps = Array.from({ length: 12 }, (_, i) => `- name: s${i}\n  image: img${i}\n  commands: [x]\n${i > 0 ? '  depends_on: [s0]\n' : ''}`).join('');
    expect(errors(`kind: pipeline\nname: p\nsteps:\n${steps}`)).toEqual([expect.stringMatching(/^steps: too many containers: pipeline "p" needs 13 containers .*never packed\)$/)]);
    // Linear steps sharing an image pack into a container: fine.
    const same = Array.from({ length: 12 }, (_, i) => `- name: s${i}\n  image: alpine\n  commands: [x]\n`).join('');
    expect(errors(`kind: pipeline\nname: p\nsteps:\n${same}`)).toEqual([]);
    // With `when:` conditions some builds run fewer steps: a warning.
    const conditional = steps.replace('- name: s11\n', '- name: s11\n  when: {branch: [main]}\n');
    expect(errors(`kind: pipeline\nname: p\nsteps:\n${conditional}`)).toEqual([]);
    expect(warnings(`kind: pipeline\nname: p\nsteps:\n${conditional}`)).toEqual([expect.stringMatching(/too many containers.*when all of its steps run/)]);
  });

  it('caps the pipeline timeout and ready.timeout, saying why', () => {
    expect(errors('kind: pipeline\ntimeout: 1441\nsteps: [{name: a, image: b}]\n')).toEqual([expect.stringMatching(/^timeout: timeout too long: 1441 minutes; .* at most 1440 minutes/)]);
    expect(errors('kind: pipeline\ntimeout: 1440\nsteps: [{name: a, image: b}]\n')).toEqual([]);
    const service = (ready: string) => `kind: pipeline\nservices:\n- name: db\n  image: postgres\n  ready: ${ready}\nsteps: [{name: a, image: b, commands: [x]}]\n`;
    // No startTimeout bounds a readiness command any more: the health check's start period does.
    expect(errors(service('{command: pg_isready, timeout: 301}'))).toEqual([expect.stringMatching(/^services\[0\]\.ready\.timeout: .*301 s; .*start period is at most 300 s/)]);
    expect(errors(service('{command: pg_isready, timeout: 300}'))).toEqual([]);
    expect(errors(service('{ports: [5432], timeout: 301}'))).toEqual([expect.stringMatching(/^services\[0\]\.ready\.timeout: .*301 s; .*300 s/)]);
    expect(errors(service('{ports: [5432], timeout: 300}'))).toEqual([]);
  });

  it('refuses secrets in variables the shell cannot name, and secret names that are not a path segment', () => {
    const text = 'kind: pipeline\nsteps:\n- name: a\n  image: b\n  commands: [x]\n  environment:\n    MY-TOK:\n      from_secret: tok\n    OK:\n      from_secret: my token!\n    PLAIN-NAME: fine\n';
    expect(lines(text)).toEqual([
      '.drone.yml:7:5: error: steps[0].environment.MY-TOK: secret in a variable the shell cannot name: "MY-TOK" holds secret tok, but the step\'s log can mask only variables named with letters, digits and "_" (not starting with a digit); rename it, e.g. MY_TOK',
      '.drone.yml:10:20: error: steps[0].environment.OK.from_secret: invalid secret name: "my token!" (a repository secret\'s name is one segment of its parameter path: letters, digits, "_", "." and "-", not "." or "..")',
    ]);
    // A name given by a `kind: secret` document is not a parameter path segment.
    const doc = 'kind: pipeline\nsteps:\n- name: a\n  image: b\n  environment:\n    K:\n      from_secret: my token!\n---\nkind: secret\nname: my token!\nget:\n  path: /slipway/acme/app/k\n';
    expect(errors(doc)).toEqual([]);
  });

  it('refuses plugin settings and variables a masked plugin could not receive (api-key → PLUGIN_API-KEY), and allows them when it runs unmasked', () => {
    const masked = 'kind: pipeline\nsteps:\n- name: up\n  image: plugins/s3\n  settings:\n    api-key:\n      from_secret: key\n    bucket-name: b\n    region: eu\n  environment:\n    X-Y: z\n';
    expect(lines(masked)).toEqual([
      '.drone.yml:6:5: error: steps[0].settings.api-key: variable a masked plugin cannot receive: "api-key" becomes PLUGIN_API-KEY; this step receives secrets, so its output is masked by a shell wrapper, which cannot pass that name on to the plugin nor mask it; use api_key if the plugin reads PLUGIN_API_KEY',
      '.drone.yml:8:5: error: steps[0].settings.bucket-name: variable a masked plugin cannot receive: "bucket-name" becomes PLUGIN_BUCKET-NAME; this step receives secrets, so its output is masked by a shell wrapper, which cannot pass that name on to the plugin nor mask it; use bucket_name if the plugin reads PLUGIN_BUCKET_NAME',
      '.drone.yml:11:5: error: steps[0].environment.X-Y: variable a masked plugin cannot receive: "X-Y"; this step receives secrets, so its output is masked by a shell wrapper, which cannot pass that name on to the plugin; use X_Y',
    ]);
    // Without secrets the image runs directly and receives every name, as in Drone.
    expect(errors('kind: pipeline\nsteps:\n- name: up\n  image: plugins/s3\n  settings:\n    bucket-name: b\n')).toEqual([]);
  });

  it('warns when a plugin step, or a step run as another user, names a service', () => {
    const text = (step: string) => `kind: pipeline\nservices:\n- name: database\n  image: postgres\nsteps:\n${step}`;
    expect(warnings(text('- name: migrate\n  image: plugins/migrate\n  settings:\n    url: postgres://database:5432/app\n'))).toEqual([
      'steps[0]: service names do not resolve here: "migrate" names "database" but its launcher adds it to its /etc/hosts only if the planner can read the image\'s command line from its registry (else the image\'s entrypoint runs as it is); use localhost, which always works (the containers of one task share it), or give the step its entrypoint:',
    ]);
    // Its own entrypoint: the launcher always runs it, and writes the names.
    expect(warnings(text('- name: migrate\n  image: plugins/migrate\n  entrypoint: [/bin/migrate]\n  settings:\n    url: postgres://database:5432/app\n'))).toEqual([]);
    expect(warnings(text('- name: t\n  image: node\n  user: node\n  commands: [psql -h database]\n'))).toEqual([expect.stringMatching(/^steps\[0\]\.user: service names do not resolve here: "t" names "database" but runs as node/)]);
    // Not named, or run by a root script: nothing to say.
    expect(warnings(text('- name: slack\n  image: plugins/slack\n  settings:\n    channel: databases\n'))).toEqual([]);
    expect(warnings(text('- name: t\n  image: node\n  commands: [psql -h database]\n'))).toEqual([]);
    // A plugin that receives secrets runs masked, under a wrapper that adds the names.
    expect(warnings(text('- name: migrate\n  image: plugins/migrate\n  settings:\n    url: postgres://database:5432/app\n    password:\n      from_secret: db_password\n'))).toEqual([]);
  });
});

// docs/design/split-pipelines.md, "Services and detached steps across the cut": a split
// pipeline's services run in a task of their own, where the steps' localhost is not theirs.
describe('lint: localhost in a pipeline split into several tasks', () => {
  const pipeline = (env: string) =>
    `kind: pipeline\ntype: docker\nname: p\nservices:\n  - name: db\n    image: postgres:15\nsteps:\n` +
    Array.from({ length: 9 }, (_, i) => `  - name: s${i}\n    image: i${i}\n    commands: [true]\n`).join('') +
    `  - name: use\n    image: alpine\n    commands: [true]\n    environment:\n      URL: ${env}\n`;

  it('warns when a step names localhost with a service port, at the step, naming the service', () => {
    const m = loadManifest('.drone.yml', pipeline('postgres://u@localhost:5432/x'), { splitPipelines: true });
    const found = m.diagnostics.filter((d) => d.message.includes(LINT.localhostAcrossTasks));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ severity: 'warning', line: 37 });
    expect(found[0]!.message).toContain('"use" names localhost with port 5432 of "db"');
    expect(isValid(m)).toBe(true);
  });

  it('says nothing when the step uses the name, or when the pipeline fits in one task', () => {
    const byName = loadManifest('.drone.yml', pipeline('postgres://u@db:5432/x'), { splitPipelines: true });
    expect(byName.diagnostics.filter((d) => d.message.includes(LINT.localhostAcrossTasks))).toEqual([]);
    const small = `kind: pipeline\ntype: docker\nname: p\nservices:\n  - name: db\n    image: postgres:15\nsteps:\n  - name: use\n    image: alpine\n    commands: [psql -h 127.0.0.1 -p 5432]\n`;
    expect(loadManifest('.drone.yml', small, { splitPipelines: true }).diagnostics.filter((d) => d.message.includes(LINT.localhostAcrossTasks))).toEqual([]);
  });
});
