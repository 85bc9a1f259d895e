// The task definition of a pipeline (RegisterTaskDefinition's input): the containers,
// the volumes, the size of the task, and its family, a hash of the rest.

import type { CompileOptions } from './compile-options.js';
import { AGENT_STATE_VOLUME, STATE_VOLUME, STEP_RECORD_VOLUME_PREFIX, WORKSPACE_VOLUME } from './contract.js';
import type { ContainerDefinition, TaskDefinitionInput, TaskVolume } from './ecs-task.js';
import { familyName } from './family.js';
import { fargateSize } from './fargate-size.js';
import { EPHEMERAL_STORAGE, MAX_DEFINITION_BYTES } from './limits.js';
import { volumeName } from './mounts.js';
import type { Pipeline, Position } from './types.js';

type Fail = (pos: Position, message: string) => never;

const DEFAULT_CPU = 1024;
const DEFAULT_MEMORY = 2048;

/** The task definition of `containers` (the agent first); `notes` gets what a user should know. */
export function taskDefinitionInput(
  pipeline: Pipeline,
  containers: ContainerDefinition[],
  options: CompileOptions,
  fail: Fail,
  notes: string[],
  /** Told before `fail` when the definition is over ECS's size (the caller may compile it smaller). */
  onTooLarge?: () => void,
): TaskDefinitionInput {
  const size = taskSize(pipeline, containers, options, fail, notes);
  // Each step container's record volume (contract.ts): the agent mounts them all.
  const records = (containers[0]?.mountPoints ?? []).map((m) => m.sourceVolume!).filter((v) => v.startsWith(STEP_RECORD_VOLUME_PREFIX));
  const volumes: TaskVolume[] = [
    { name: WORKSPACE_VOLUME },
    { name: STATE_VOLUME },
    { name: AGENT_STATE_VOLUME },
    ...records.map((name) => ({ name })),
    ...pipeline.volumes.map((v) => ({ name: volumeName(v.name) })),
  ];
  const content: Omit<TaskDefinitionInput, 'family'> = {
    ...(options.taskRoleArn ? { taskRoleArn: options.taskRoleArn } : {}),
    ...(options.executionRoleArn ? { executionRoleArn: options.executionRoleArn } : {}),
    networkMode: 'awsvpc',
    requiresCompatibilities: ['FARGATE'],
    cpu: size.cpu,
    memory: size.memory,
    runtimePlatform: { cpuArchitecture: pipeline.platform.arch === 'arm64' ? 'ARM64' : 'X86_64', operatingSystemFamily: 'LINUX' },
    // Every image and the workspace share the task's storage (20 GiB without this).
    ...(pipeline.resources?.storage !== undefined ? { ephemeralStorage: { sizeInGiB: ephemeralStorage(pipeline, fail) } } : {}),
    containerDefinitions: containers,
    volumes,
  };
  const contentJson = JSON.stringify(content);
  const taskDefinition: TaskDefinitionInput = { family: familyName(pipeline.name, contentJson), ...content };
  // The request's size: the content plus `"family":"…",`.
  const definitionBytes = Buffer.byteLength(contentJson, 'utf8') + taskDefinition.family.length + 12;
  if (definitionBytes > MAX_DEFINITION_BYTES) {
    onTooLarge?.();
    fail(
      pipeline.pos,
      `its task definition is ${definitionBytes} bytes but ECS accepts at most ${MAX_DEFINITION_BYTES}: ` +
        `move long commands into a script in the repository and call it, or split the pipeline`,
    );
  }
  return taskDefinition;
}

/**
 * The task's size: what the pipeline's `resources` ask for (else the defaults), raised to
 * hold what its containers reserve — ECS rejects a task whose containers' cpu (or memory
 * reservations) add up to more than the task's — then to the nearest valid Fargate pair.
 */
function taskSize(pipeline: Pipeline, containers: ContainerDefinition[], options: CompileOptions, fail: Fail, notes: string[]): { cpu: string; memory: string } {
  const sumCpu = containers.reduce((total, c) => total + (c.cpu ?? 0), 0);
  const sumMemory = containers.reduce((total, c) => total + Math.max(c.memoryReservation ?? 0, c.memory ?? 0), 0);
  const askedCpu = pipeline.resources?.cpu ?? options.defaultCpu ?? DEFAULT_CPU;
  const askedMemory = pipeline.resources?.memory ?? options.defaultMemory ?? DEFAULT_MEMORY;
  const cpu = Math.max(askedCpu, sumCpu);
  const memory = Math.max(askedMemory, sumMemory);
  const size = fargateSize(cpu, memory);
  if ('error' in size) {
    return fail(pipeline.pos, `resources: ${size.error}${cpu > askedCpu || memory > askedMemory ? ` (the steps and services together ask for ${sumCpu} CPU units and ${sumMemory} MiB)` : ''}`);
  }
  const raised = [
    ...(pipeline.resources?.cpu !== undefined && sumCpu > pipeline.resources.cpu ? [`cpu ${pipeline.resources.cpu} → ${size.cpu} (its containers ask for ${sumCpu} units)`] : []),
    ...(pipeline.resources?.memory !== undefined && sumMemory > pipeline.resources.memory ? [`memory ${pipeline.resources.memory} → ${size.memory} MiB (its containers reserve ${sumMemory} MiB)`] : []),
  ];
  if (raised.length > 0) notes.push(`resources: the task was raised to hold its containers: ${raised.join(', ')}`);
  return size;
}

/** The pipeline's `resources.storage` within what ECS accepts (lint says the same, with the position). */
function ephemeralStorage(pipeline: Pipeline, fail: Fail): number {
  const gib = pipeline.resources!.storage!;
  const { min, max } = EPHEMERAL_STORAGE;
  if (gib < min || gib > max) return fail(pipeline.pos, `resources.storage is ${gib} GiB but ECS accepts ${min} to ${max} GiB of ephemeral storage per task`);
  return gib;
}
