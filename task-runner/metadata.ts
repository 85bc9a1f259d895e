// Task metadata endpoint v4: `${ECS_CONTAINER_METADATA_URI_V4}/task`. The parser is pure
// and lenient (fields are optional in the documented shape, and Health is unconfirmed on
// Fargate); the fetch never throws for a transient failure, the caller retries.

import type { ContainerPhase, ContainerView, HealthStatus } from './container-view.js';

export interface TaskMetadata {
  taskArn?: string;
  knownStatus?: string;
  /** By container name. */
  containers: Record<string, ContainerView>;
  /**
   * The task's private IPv4 address: each container's `Networks[].IPv4Addresses` in awsvpc mode
   * (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-metadata-endpoint-v4-fargate-examples.html),
   * the same for every container of the task (one network interface).
   */
  address?: string;
}

const PENDING_STATUSES = new Set(['NONE', 'PULLED', 'CREATED', 'MANIFEST_PULLED', 'RESOURCES_PROVISIONED', 'PENDING']);

function phaseOf(knownStatus: unknown): ContainerPhase {
  if (knownStatus === 'RUNNING') return 'running';
  if (knownStatus === 'STOPPED') return 'stopped';
  // Anything else (including statuses added later) means "not started yet".
  if (typeof knownStatus === 'string' && PENDING_STATUSES.has(knownStatus)) return 'pending';
  return 'pending';
}

function healthOf(health: unknown): { health?: HealthStatus; healthOutput?: string } {
  if (typeof health !== 'object' || health === null) return {};
  const record = health as Record<string, unknown>;
  const status = record['status'];
  const output = typeof record['output'] === 'string' ? record['output'] : undefined;
  if (status === 'HEALTHY' || status === 'UNHEALTHY' || status === 'UNKNOWN') {
    return output === undefined ? { health: status } : { health: status, healthOutput: output };
  }
  return { health: 'UNKNOWN' };
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function firstIPv4(networks: unknown): string | undefined {
  if (!Array.isArray(networks)) return undefined;
  for (const n of networks as unknown[]) {
    const addresses = (n as Record<string, unknown> | null)?.['IPv4Addresses'];
    if (Array.isArray(addresses) && typeof addresses[0] === 'string' && addresses[0] !== '') return addresses[0];
  }
  return undefined;
}

/** Reads the JSON of `/task`; throws only when the body is not the documented shape at all. */
export function parseTaskMetadata(body: unknown): TaskMetadata {
  if (typeof body !== 'object' || body === null || !Array.isArray((body as Record<string, unknown>)['Containers'])) {
    throw new Error('metadata: expected a task object with a Containers array');
  }
  const task = body as Record<string, unknown>;
  const containers: Record<string, ContainerView> = {};
  let address: string | undefined;
  for (const raw of task['Containers'] as unknown[]) {
    if (typeof raw !== 'object' || raw === null) continue;
    const c = raw as Record<string, unknown>;
    const name = c['Name'];
    if (typeof name !== 'string') continue;
    const phase = phaseOf(c['KnownStatus']);
    const exitCode = typeof c['ExitCode'] === 'number' ? c['ExitCode'] : null;
    const view: ContainerView = { phase, exitCode, ...healthOf(c['Health']) };
    const startedAt = optionalString(c['StartedAt']);
    const finishedAt = optionalString(c['FinishedAt']);
    if (startedAt !== undefined) view.startedAt = startedAt;
    if (finishedAt !== undefined) view.finishedAt = finishedAt;
    containers[name] = view;
    address ??= firstIPv4(c['Networks']);
  }
  const result: TaskMetadata = { containers };
  if (address !== undefined) result.address = address;
  const taskArn = optionalString(task['TaskARN']);
  const knownStatus = optionalString(task['KnownStatus']);
  if (taskArn !== undefined) result.taskArn = taskArn;
  if (knownStatus !== undefined) result.knownStatus = knownStatus;
  return result;
}

export type MetadataResult = { ok: true; task: TaskMetadata } | { ok: false; error: string };

/** One GET of `/task`, bounded in time; a failure is a value, not an exception. */
export async function fetchTaskMetadata(baseUri: string, timeoutMs = 2000): Promise<MetadataResult> {
  const url = `${baseUri.replace(/\/+$/, '')}/task`;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) {
      // The body is not wanted, but left unread it holds the connection until collected.
      await response.body?.cancel();
      return { ok: false, error: `metadata: GET ${url} answered ${response.status}` };
    }
    return { ok: true, task: parseTaskMetadata(await response.json()) };
  } catch (error) {
    return { ok: false, error: `metadata: GET ${url} failed: ${(error as Error).message}` };
  }
}
