// The trust rules and the capacity choice (core/pipeline/capacity.ts), and how the compiler
// applies them to lint's errors: table tests over real pipeline files, no mocks.
import { describe, expect, it } from 'vitest';
import { chooseCapacity, ec2Needs, type Ec2CapacityOptions } from '../../core/pipeline/capacity.js';
import { compileManifest } from '../../core/pipeline/compile.js';
import { formatDiagnostic } from '../../core/pipeline/format.js';
import { loadManifest } from '../../core/pipeline/load.js';
import type { Pipeline } from '../../core/pipeline/types.js';
import { FIXTURE_OPTIONS, fixtureContext } from '../compiler/support.js';

const PROVIDERS = { amd64: 'slipway-ec2-amd64', arm64: 'slipway-ec2-arm64' };
const trusted: Ec2CapacityOptions = { capacityProviders: PROVIDERS, trusted: true };
const untrusted: Ec2CapacityOptions = { capacityProviders: PROVIDERS, trusted: false };

function pipelineOf(text: string): Pipeline {
  return loadManifest('.drone.yml', text).pipelines[0]!;
}

const PRIVILEGED = 'kind: pipeline\nsteps:\n- name: kind\n  image: alpine\n  privileged: true\n  commands: [kind create cluster]\n';
const DIND_SERVICE = 'kind: pipeline\nservices:\n- name: docker\n  image: docker:dind\nsteps:\n- name: build\n  image: docker\n  commands: [docker ps]\n';
const SOCKET =
  'kind: pipeline\nsteps:\n- name: build\n  image: docker\n  volumes: [{name: sock, path: /var/run/docker.sock}]\n  commands: [docker ps]\n' +
  'volumes:\n- name: sock\n  host: {path: /var/run/docker.sock}\n';
const PLAIN = 'kind: pipeline\nsteps:\n- name: test\n  image: golang\n  commands: [go test]\n';
const WARM = 'kind: pipeline\nnode: {capacity: warm}\nsteps:\n- name: test\n  image: golang\n  commands: [go test]\n';
const FARGATE_ASKED = 'kind: pipeline\nnode: {capacity: fargate}\nsteps:\n- name: test\n  image: golang\n  commands: [go test]\n';
const IMAGE_BUILD = 'kind: pipeline\nsteps:\n- name: publish\n  image: plugins/docker\n  privileged: true\n  settings: {repo: acme/app}\n';

describe('what only EC2 gives', () => {
  it.each([
    ['a privileged step', PRIVILEGED, [['privileged', 'kind']]],
    ['a dind service', DIND_SERVICE, [['docker-daemon', 'docker']]],
    ['the host Docker socket (the volume and the step that mounts it)', SOCKET, [['docker-socket', 'sock'], ['docker-socket', 'build']]],
    ['nothing for a plain pipeline', PLAIN, []],
    ['nothing for an image build plugin marked privileged (it runs kaniko)', IMAGE_BUILD, []],
  ])('%s', (_name, text, expected) => {
    expect(ec2Needs(pipelineOf(text)).map((n) => [n.kind, n.name])).toEqual(expected);
  });
});

describe('trust rules: where a pipeline runs', () => {
  it.each([
    ['privileged, trusted repository, push', PRIVILEGED, trusted, false, 'ec2'],
    ['dind, trusted repository, push', DIND_SERVICE, trusted, false, 'ec2'],
    ['docker socket, trusted repository, push', SOCKET, trusted, false, 'ec2'],
    ['privileged, repository not trusted', PRIVILEGED, untrusted, false, 'fargate'],
    ['privileged, trusted repository, pull request from a fork', PRIVILEGED, trusted, true, 'fargate'],
    ['privileged, deployment without EC2 capacity', PRIVILEGED, undefined, false, 'fargate'],
    ['plain pipeline, trusted repository', PLAIN, trusted, false, 'fargate'],
    ['node: {capacity: warm}, trusted repository', WARM, trusted, false, 'ec2'],
    ['node: {capacity: warm}, repository not trusted', WARM, untrusted, false, 'fargate'],
    ['node: {capacity: warm}, fork', WARM, trusted, true, 'fargate'],
    ['plain pipeline, repository default warm', PLAIN, { ...trusted, defaultCapacity: 'warm' as const }, false, 'ec2'],
    ['node: {capacity: fargate} overrides the repository default warm', FARGATE_ASKED, { ...trusted, defaultCapacity: 'warm' as const }, false, 'fargate'],
  ])('%s → %s', (_name, text, ec2, fork, expected) => {
    expect(chooseCapacity(pipelineOf(text), ec2, fork).kind).toBe(expected);
  });

  it('picks the capacity provider of the pipeline architecture, and refuses an architecture without one', () => {
    const arm = pipelineOf(`${PRIVILEGED}platform: {arch: arm64}\n`);
    expect(chooseCapacity(arm, trusted, false)).toMatchObject({ kind: 'ec2', capacityProvider: 'slipway-ec2-arm64' });
    const only = chooseCapacity(arm, { capacityProviders: { amd64: 'x' }, trusted: true }, false);
    expect(only).toEqual({ kind: 'fargate', note: 'cannot run on EC2: this deployment has no arm64 EC2 capacity (it has amd64)' });
  });

  it('names the setting to change when the repository is not trusted', () => {
    expect(chooseCapacity(pipelineOf(PRIVILEGED), untrusted, false)).toEqual({
      kind: 'fargate',
      note: 'cannot run on EC2: the repository is not trusted to run on EC2 (an operator can allow it: slipway repo update OWNER/NAME --trusted)',
    });
  });
});

describe('the compiler applies them to lint errors', () => {
  const compile = (text: string, ec2: Ec2CapacityOptions | undefined, flags = '') => {
    const { context } = fixtureContext(flags);
    return compileManifest(loadManifest('.drone.yml', text), context, { ...FIXTURE_OPTIONS, ...(ec2 ? { ec2 } : {}) });
  };

  it('a trusted repository runs its privileged pipeline on EC2, privileged', () => {
    const result = compile(PRIVILEGED, trusted);
    expect(result.errors).toEqual([]);
    const task = result.stages[0]!.taskDefinition;
    expect(task.requiresCompatibilities).toEqual(['EC2']);
    expect(task.containerDefinitions.find((c) => c.name === 'kind')?.privileged).toBe(true);
    expect(task.containerDefinitions.filter((c) => c.privileged).map((c) => c.name)).toEqual(['kind']);
  });

  it('lint errors other than what EC2 gives still stop the pipeline on EC2', () => {
    const text = `${PRIVILEGED}  devices: [/dev/fuse]\n`;
    const result = compile(text, trusted);
    expect(result.stages).toEqual([]);
    expect(result.errors[0]!.diagnostics.map(formatDiagnostic).join('\n')).toMatch(/devices: not supported on Fargate/);
  });

  it('a fork of a trusted repository keeps the lint errors, plus why EC2 is refused', () => {
    const result = compile(PRIVILEGED, trusted, '# context: {"event": "pull_request", "fork": true, "action": "opened"}');
    expect(result.stages).toEqual([]);
    expect(result.errors[0]!.diagnostics.map((d) => d.message)).toEqual([
      expect.stringMatching(/^steps\[0\]\.privileged: Fargate cannot run privileged containers; .*--trusted; never for pull requests from forks\)$/),
      'compile: pipeline "default" needs EC2 capacity, which this build cannot have: pull requests from forks never run on EC2, even for a trusted repository',
    ]);
  });

  it('without EC2 capacity the errors are those of a Fargate-only deployment', () => {
    const result = compile(PRIVILEGED, undefined);
    expect(result.errors[0]!.diagnostics).toHaveLength(1);
    expect(result.errors[0]!.diagnostics[0]!.message).toMatch(/^steps\[0\]\.privileged: Fargate cannot run privileged containers/);
  });

  it('lint refuses an unknown node.capacity, with a suggestion', () => {
    const diagnostics = loadManifest('.drone.yml', 'kind: pipeline\nnode: {capacity: wram}\nsteps: [{name: a, image: b}]\n').diagnostics.map(formatDiagnostic);
    expect(diagnostics).toEqual(['.drone.yml:2:18: error: node.capacity: unknown value "wram" (expected warm or fargate) — did you mean "warm"?']);
  });
});
