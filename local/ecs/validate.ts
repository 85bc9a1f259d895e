// RegisterTaskDefinition's checks, with ECS's limits (see the project's ECS reference):
// a definition ECS would refuse is refused here too, as a ClientException.
import type { ContainerDefinition, RegisterTaskDefinitionRequest } from '@aws-sdk/client-ecs';
import { clientError } from './errors.js';

const NAME = /^[a-zA-Z0-9_-]{1,255}$/;
const FARGATE_MEMORY: Record<string, [number, number, number]> = {
  // cpu units → [min MiB, max MiB, step MiB]
  '256': [512, 2048, 512],
  '512': [1024, 4096, 1024],
  '1024': [2048, 8192, 1024],
  '2048': [4096, 16384, 1024],
  '4096': [8192, 30720, 1024],
  '8192': [16384, 61440, 4096],
  '16384': [32768, 122880, 8192],
};

export function validateTaskDefinition(input: RegisterTaskDefinitionRequest): void {
  if (Buffer.byteLength(JSON.stringify(input)) > 64 * 1024) {
    throw clientError('Actual length of the task definition exceeds the maximum of 65536 bytes');
  }
  if (!input.family || !NAME.test(input.family)) {
    throw clientError(`Family '${input.family ?? ''}' is invalid: up to 255 letters, numbers, hyphens and underscores`);
  }
  const containers = input.containerDefinitions ?? [];
  if (containers.length === 0) throw clientError('Container list cannot be empty.');
  if (containers.length > 10) throw clientError(`Too many containers: ${containers.length}; a task definition holds at most 10`);
  const byName = new Map<string, ContainerDefinition>();
  for (const c of containers) {
    if (!c.name || !NAME.test(c.name)) throw clientError(`Container name '${c.name ?? ''}' is invalid: up to 255 letters, numbers, hyphens and underscores`);
    if (byName.has(c.name)) throw clientError(`Duplicate container name '${c.name}'`);
    if (!c.image) throw clientError(`Container.image should not be null or empty (container '${c.name}')`);
    byName.set(c.name, c);
  }
  if (![...byName.values()].some((c) => c.essential !== false)) {
    throw clientError('Task definition does not have any essential container.');
  }
  const volumes = new Set((input.volumes ?? []).map((v) => v.name));
  for (const c of containers) validateContainer(c, byName, volumes);
  validateFargateSize(input);
  // https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_EphemeralStorage.html: 21 to 200 GiB.
  const storage = input.ephemeralStorage?.sizeInGiB;
  if (input.ephemeralStorage && (storage === undefined || !Number.isInteger(storage) || storage < 21 || storage > 200)) {
    throw clientError(`ephemeralStorage.sizeInGiB ${storage ?? '(missing)'} is invalid: the ephemeral storage of a task must be from 21 to 200 GiB`);
  }
}

function validateContainer(c: ContainerDefinition, byName: Map<string, ContainerDefinition>, volumes: Set<string | undefined>): void {
  const where = `container '${c.name}'`;
  for (const dep of c.dependsOn ?? []) {
    const target = dep.containerName ? byName.get(dep.containerName) : undefined;
    if (!target) throw clientError(`${where} depends on '${dep.containerName ?? ''}', which is not a container of this task definition`);
    if (target === c) throw clientError(`${where} cannot depend on itself`);
    if (!['START', 'COMPLETE', 'SUCCESS', 'HEALTHY'].includes(dep.condition ?? '')) {
      throw clientError(`${where}: dependsOn condition '${dep.condition ?? ''}' is invalid; expected START, COMPLETE, SUCCESS or HEALTHY`);
    }
    if ((dep.condition === 'COMPLETE' || dep.condition === 'SUCCESS') && target.essential !== false) {
      throw clientError(`${where}: dependency condition ${dep.condition} cannot target the essential container '${target.name}'`);
    }
    if (dep.condition === 'HEALTHY' && !target.healthCheck) {
      throw clientError(`${where}: dependency condition HEALTHY needs a healthCheck on container '${target.name}'`);
    }
  }
  const hc = c.healthCheck;
  if (hc) {
    const kind = hc.command?.[0];
    if (kind !== 'CMD' && kind !== 'CMD-SHELL') throw clientError(`${where}: healthCheck.command must start with CMD or CMD-SHELL`);
    if ((hc.command?.length ?? 0) < 2) throw clientError(`${where}: healthCheck.command has no command after ${kind}`);
    range(where, 'healthCheck.interval', hc.interval, 5, 300);
    range(where, 'healthCheck.timeout', hc.timeout, 2, 60);
    range(where, 'healthCheck.retries', hc.retries, 1, 10);
    range(where, 'healthCheck.startPeriod', hc.startPeriod, 0, 300);
  }
  range(where, 'startTimeout', c.startTimeout, 2, 120);
  range(where, 'stopTimeout', c.stopTimeout, 2, 120);
  for (const m of c.mountPoints ?? []) {
    if (!volumes.has(m.sourceVolume)) throw clientError(`${where}: mountPoints sourceVolume '${m.sourceVolume ?? ''}' is not a volume of this task definition`);
    if (!m.containerPath?.startsWith('/')) throw clientError(`${where}: mountPoints containerPath '${m.containerPath ?? ''}' must be an absolute path`);
  }
  for (const v of c.volumesFrom ?? []) {
    if (!v.sourceContainer || !byName.has(v.sourceContainer)) throw clientError(`${where}: volumesFrom names unknown container '${v.sourceContainer ?? ''}'`);
  }
}

function range(where: string, field: string, value: number | undefined, min: number, max: number): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw clientError(`${where}: ${field} is ${value}; expected an integer from ${min} to ${max}`);
  }
}

function validateFargateSize(input: RegisterTaskDefinitionRequest): void {
  if (!(input.requiresCompatibilities ?? []).includes('FARGATE')) return;
  // What Fargate refuses that EC2 gives (the project's ECS reference, "Not possible on Fargate").
  const privileged = (input.containerDefinitions ?? []).find((c) => c.privileged === true);
  if (privileged) throw clientError(`Fargate does not support privileged containers (container '${privileged.name ?? ''}')`);
  const host = (input.volumes ?? []).find((v) => v.host?.sourcePath);
  if (host) throw clientError(`Fargate does not support host volumes with a sourcePath (volume '${host.name ?? ''}')`);
  if (input.networkMode && input.networkMode !== 'awsvpc') {
    throw clientError(`Fargate requires network mode awsvpc, not '${input.networkMode}'`);
  }
  if (input.cpu === undefined || input.memory === undefined) {
    throw clientError('Fargate requires task definition to have cpu and memory values set');
  }
  const pair = FARGATE_MEMORY[input.cpu];
  const memory = Number(input.memory);
  const fits = pair !== undefined && memory >= pair[0] && memory <= pair[1] && (memory - pair[0]) % pair[2] === 0;
  // 256 CPU units take 512, 1024 or 2048 MiB only.
  if (!fits || (input.cpu === '256' && memory === 1536)) {
    throw clientError(`No Fargate configuration exists for given values: ${input.cpu} CPU, ${input.memory} memory`);
  }
}
