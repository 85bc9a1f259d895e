// Where a pipeline runs: Fargate, or the deployment's optional EC2 capacity. Pure.
//
// EC2 is what a pipeline needs when Fargate cannot give it a Docker daemon: a privileged
// container, the host's Docker socket, Docker-in-Docker (docker:dind, or an image Drone runs
// privileged). Such a build is root on its instance, so it runs there only when an operator
// marked the repository trusted (Drone's model: `drone repo update --trusted`) and the build is
// not a pull request from a fork; otherwise the lint error of today stays, naming the setting.
// `node: { capacity: warm }` (or the repository's default) asks for EC2 for speed (its images
// stay cached on the instance): granted under the same rule, else the pipeline runs on Fargate
// with a note, since it needs nothing Fargate lacks. Steps of an EC2 task run on the instance's
// network (host mode, ec2-task.ts), where the instance's role is one request away: that is why
// warm capacity is for trusted repositories too.

import { DEFAULT_CAPACITY, type CapacityPreference } from './capacity-preference.js';
import { imageBuildKind } from './image-build.js';
import { imageRepository } from './known-images.js';
import type { Arch, Pipeline, Position, Step } from './types.js';

/** The repository setting that lets a pipeline run on EC2: named in every refusal. */
export const TRUST_SETTING = 'slipway repo update OWNER/NAME --trusted';

/** The Docker socket, as Drone pipelines mount it (`host: { path: /var/run/docker.sock }`). */
export const DOCKER_SOCKET = '/var/run/docker.sock';

/** Images that need a Docker daemon of their own, run privileged (as Drone's privileged images list does). */
const DOCKER_DAEMON_PLUGINS = new Set(['plugins/heroku']);

/** The deployment's EC2 capacity and this repository's settings (the planner fills it in per build). */
export interface Ec2CapacityOptions {
  /** The capacity provider of each architecture the deployment has instances for. */
  capacityProviders: Partial<Record<Arch, string>>;
  /** The repository's `trusted` setting: may it run privileged, with the Docker socket, with dind. */
  trusted: boolean;
  /** The repository's default for pipelines whose `node:` does not say (`warm`: EC2 when allowed). */
  defaultCapacity?: CapacityPreference;
}

export { CAPACITY_PREFERENCES, DEFAULT_CAPACITY, type CapacityPreference } from './capacity-preference.js';

export type Ec2NeedKind = 'privileged' | 'docker-daemon' | 'docker-socket';

/** One thing of a pipeline that only EC2 gives. */
export interface Ec2Need {
  kind: Ec2NeedKind;
  /** The step or service (or, for a pipeline volume, the volume) that asks for it. */
  name: string;
  pos: Position;
}

export type CapacityChoice =
  | { kind: 'fargate'; note?: string }
  | { kind: 'ec2'; capacityProvider: string; warm: boolean; needs: Ec2Need[] };

/** Whether a step's image needs a Docker daemon of its own (and so a privileged container). */
export function needsDockerDaemon(step: Pick<Step, 'image' | 'commands'>): boolean {
  if (!step.image) return false;
  const repository = imageRepository(step.image);
  // An image build plugin with `commands:` runs its own image (and so wants its daemon), not the builder.
  const buildPluginWithCommands = step.commands.length > 0 && imageBuildKind({ image: step.image, commands: [] }) !== undefined;
  return DOCKER_DAEMON_PLUGINS.has(repository) || buildPluginWithCommands || (repository === 'docker' && /dind/.test(step.image));
}

/** Whether this container runs privileged on EC2: it asks for it, or its image needs a daemon. */
export function runsPrivileged(step: Step): boolean {
  return (step.privileged && !imageBuildKind(step)) || needsDockerDaemon(step);
}

/** Whether a mount or a host path is the Docker socket (any path ending in docker.sock, as lint reads it). */
export function isDockerSocket(path: string): boolean {
  return /docker\.sock$/.test(path);
}

/** What of `pipeline` only EC2 gives, in file order. Empty: Fargate runs it. */
export function ec2Needs(pipeline: Pipeline): Ec2Need[] {
  const needs: Ec2Need[] = [];
  const socketVolumes = new Set(pipeline.volumes.filter((v) => v.hostPath !== undefined && isDockerSocket(v.hostPath)).map((v) => v.name));
  for (const v of pipeline.volumes) if (socketVolumes.has(v.name)) needs.push({ kind: 'docker-socket', name: v.name, pos: v.pos });
  for (const step of [...pipeline.services, ...pipeline.steps]) {
    if (step.privileged && !imageBuildKind(step)) needs.push({ kind: 'privileged', name: step.name, pos: step.pos });
    if (needsDockerDaemon(step)) needs.push({ kind: 'docker-daemon', name: step.name, pos: step.pos });
    if (step.volumes.some((m) => isDockerSocket(m.path) || socketVolumes.has(m.name))) needs.push({ kind: 'docker-socket', name: step.name, pos: step.pos });
  }
  return needs;
}

/** The capacity `node: { capacity: … }` asks for, or the repository's default. */
export function capacityPreference(pipeline: Pipeline, ec2: Ec2CapacityOptions | undefined): CapacityPreference {
  const asked = pipeline.node.capacity;
  if (asked === 'warm' || asked === 'fargate') return asked;
  return ec2?.defaultCapacity ?? DEFAULT_CAPACITY;
}

/**
 * Why this build may not run on EC2, or undefined when it may: the deployment has EC2
 * capacity for the pipeline's architecture, the repository is trusted, and the build is not a
 * pull request from a fork (its author controls the pipeline file and is not trusted).
 */
export function ec2Refusal(pipeline: Pipeline, ec2: Ec2CapacityOptions | undefined, fork: boolean): string | undefined {
  if (!ec2 || Object.keys(ec2.capacityProviders).length === 0) return 'this deployment has no EC2 capacity (ec2Capacity, see README "EC2 capacity")';
  if (!ec2.capacityProviders[pipeline.platform.arch]) {
    return `this deployment has no ${pipeline.platform.arch} EC2 capacity (it has ${Object.keys(ec2.capacityProviders).sort().join(', ')})`;
  }
  if (!ec2.trusted) return `the repository is not trusted to run on EC2 (an operator can allow it: ${TRUST_SETTING})`;
  if (fork) return 'pull requests from forks never run on EC2, even for a trusted repository';
  return undefined;
}

/** Where `pipeline` runs in this build. A pipeline that needs EC2 and may not have it gets `fargate` (lint's errors then stand). */
export function chooseCapacity(pipeline: Pipeline, ec2: Ec2CapacityOptions | undefined, fork: boolean): CapacityChoice {
  const needs = ec2Needs(pipeline);
  const warm = capacityPreference(pipeline, ec2) === 'warm';
  if (needs.length === 0 && !warm) return { kind: 'fargate' };
  const refusal = ec2Refusal(pipeline, ec2, fork);
  if (refusal !== undefined) {
    return needs.length > 0 ? { kind: 'fargate', note: `cannot run on EC2: ${refusal}` } : { kind: 'fargate', note: `warm capacity asked for, runs on Fargate: ${refusal}` };
  }
  return { kind: 'ec2', capacityProvider: ec2!.capacityProviders[pipeline.platform.arch]!, warm, needs };
}
