// Everything the agent reads from its environment, checked once at start. Errors say
// which variable is wrong and what was expected.

import { isIP } from 'node:net';
import { AGENT_ENV, STATE_DIR, statePaths, type AgentPlan, type ContainerDependencyCondition, type UpstreamState } from '../core/pipeline/contract.js';
import type { BuildContext } from '../core/pipeline/context.js';

export const METADATA_ENV = 'ECS_CONTAINER_METADATA_URI_V4';

export interface AgentConfig {
  plan: AgentPlan;
  ctx: BuildContext;
  stageId: string;
  workspace: string;
  paths: { stateDir: string; ready: string; env: string; status: string; setup: string; steps: string; agent: string; servicesHost: string };
  /** What the build had done when this stage was released; no failed stages when not given. */
  upstream: UpstreamState;
  timeoutMs: number;
  /** "timed out after <label>". */
  timeoutLabel: string;
  metadataUri: string | undefined;
  pollMs: number;
  env: NodeJS.ProcessEnv;
  /** Segments of a split pipeline: the workspace volume (Drone's base) and the snapshot URLs this segment needs. */
  snapshot?: { base: string; inUrl?: string; outUrl?: string };
  /**
   * A segment whose services run in the service task (AgentPlan.remoteServices): that task's
   * private IP when the control plane knew it at RunTask, else (a first segment started together
   * with the service task) `servicesAddressIn`, the URL its agent leaves the address at.
   */
  servicesHost?: string;
  servicesAddressIn?: string;
  /** The service task (AgentPlan.role `services`): where it leaves its address for the first segment. */
  servicesAddressOut?: string;
  /** Tests: the port of the services' readiness (default SERVICES_READY_PORT). */
  readyPort?: number;
}

export class ConfigError extends Error {}

function parseJson(env: NodeJS.ProcessEnv, name: string): unknown {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') throw new ConfigError(`agent: ${name} is not set (expected JSON)`);
  try {
    return JSON.parse(raw) as unknown;
  } catch (error) {
    throw new ConfigError(`agent: ${name} is not valid JSON: ${(error as Error).message}`);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const CONDITIONS: ReadonlySet<string> = new Set(['START', 'COMPLETE', 'SUCCESS', 'HEALTHY'] satisfies ContainerDependencyCondition[]);

function checkPlan(value: unknown): AgentPlan {
  const where = AGENT_ENV.plan;
  if (!isObject(value)) throw new ConfigError(`agent: ${where}: expected an object`);
  if (value['version'] !== 1) throw new ConfigError(`agent: ${where}.version: expected 1, got ${JSON.stringify(value['version'])}`);
  for (const key of ['services', 'steps'] as const) {
    if (!Array.isArray(value[key])) throw new ConfigError(`agent: ${where}.${key}: expected an array`);
  }
  if (typeof value['workspace'] !== 'string') throw new ConfigError(`agent: ${where}.workspace: expected a path`);
  if (typeof value['timeoutMinutes'] !== 'number' || !(value['timeoutMinutes'] > 0)) {
    throw new ConfigError(`agent: ${where}.timeoutMinutes: expected a positive number`);
  }
  if (!isObject(value['clone'])) throw new ConfigError(`agent: ${where}.clone: expected an object`);
  for (const [i, step] of (value['steps'] as unknown[]).entries()) {
    if (!isObject(step) || typeof step['container'] !== 'string' || !Array.isArray(step['steps']) || !Array.isArray(step['dependsOn'])) {
      throw new ConfigError(`agent: ${where}.steps[${i}]: expected { container, steps[], dependsOn[], detach, failure }`);
    }
    const conditions = step['dependsOnConditions'];
    if (conditions !== undefined) {
      const bad = isObject(conditions) ? Object.entries(conditions).find(([, c]) => !CONDITIONS.has(c as string)) : undefined;
      if (!isObject(conditions) || bad !== undefined) {
        const got = bad === undefined ? '' : `, got ${JSON.stringify(bad[1])} for "${bad[0]}"`;
        throw new ConfigError(`agent: ${where}.steps[${i}].dependsOnConditions: expected { container: ${[...CONDITIONS].join(' | ')} }${got}`);
      }
    }
  }
  const segment = value['segment'];
  if (
    segment !== undefined &&
    (!isObject(segment) || !Number.isInteger(segment['number']) || !Number.isInteger(segment['count']) ||
      !((segment['number'] as number) >= 1) || !((segment['count'] as number) >= (segment['number'] as number)))
  ) {
    throw new ConfigError(`agent: ${where}.segment: expected { number, count }, integers with 1 ≤ number ≤ count`);
  }
  const stage = value['stage'];
  if (
    stage !== undefined &&
    (!isObject(stage) || !Number.isInteger(stage['number']) || !((stage['number'] as number) > 0) ||
      !Array.isArray(stage['dependsOn']) || !stage['dependsOn'].every((d) => typeof d === 'string'))
  ) {
    throw new ConfigError(`agent: ${where}.stage: expected { number: a positive integer, dependsOn: pipeline names[] }`);
  }
  for (const [i, service] of (value['services'] as unknown[]).entries()) {
    if (!isObject(service) || typeof service['name'] !== 'string' || !Array.isArray(service['ports']) || typeof service['timeout'] !== 'number') {
      throw new ConfigError(`agent: ${where}.services[${i}]: expected { name, container, ports[], healthCommand, timeout }`);
    }
  }
  return value as unknown as AgentPlan;
}

function checkContext(value: unknown): BuildContext {
  const where = AGENT_ENV.build;
  if (!isObject(value) || !isObject(value['repo']) || !isObject(value['commit']) || !isObject(value['build'])) {
    throw new ConfigError(`agent: ${where}: expected a BuildContext with repo, commit and build`);
  }
  if (typeof value['commit']['sha'] !== 'string') throw new ConfigError(`agent: ${where}.commit.sha: expected a commit id`);
  return value as unknown as BuildContext;
}

function checkUpstream(env: NodeJS.ProcessEnv): UpstreamState {
  const where = AGENT_ENV.upstream;
  if (env[where] === undefined || env[where] === '') return { failedStages: [] };
  const value = parseJson(env, where);
  if (!isObject(value) || !Array.isArray(value['failedStages']) || !value['failedStages'].every((s) => typeof s === 'string')) {
    throw new ConfigError(`agent: ${where}: expected { failedStages: stage names[], buildStarted?: Unix seconds }`);
  }
  const started = value['buildStarted'];
  if (started !== undefined && !(Number.isInteger(started) && (started as number) > 0)) {
    throw new ConfigError(`agent: ${where}.buildStarted: expected Unix seconds, got ${JSON.stringify(started)}`);
  }
  return { failedStages: value['failedStages'] as string[], ...(started !== undefined ? { buildStarted: started as number } : {}) };
}

function positiveNumber(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new ConfigError(`agent: ${name}: expected a positive number, got "${raw}"`);
  return value;
}

function plural(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

export function readConfig(env: NodeJS.ProcessEnv): AgentConfig {
  const plan = checkPlan(parseJson(env, AGENT_ENV.plan));
  const ctx = checkContext(parseJson(env, AGENT_ENV.build));
  const stageId = env[AGENT_ENV.stageId] ?? '';
  const stateDir = env[AGENT_ENV.stateDir] || STATE_DIR;
  const workspace = env[AGENT_ENV.workspaceDir] || plan.workspace;
  const timeoutSeconds = positiveNumber(env, AGENT_ENV.timeoutSeconds);
  const timeoutMs = timeoutSeconds !== undefined ? timeoutSeconds * 1000 : plan.timeoutMinutes * 60_000;
  const timeoutLabel =
    timeoutSeconds !== undefined && timeoutSeconds % 60 !== 0 ? plural(timeoutSeconds, 'second') : plural(timeoutMs / 60_000, 'minute');
  const metadataUri = env[METADATA_ENV] || undefined;
  return {
    plan,
    ctx,
    stageId,
    workspace,
    paths: { stateDir, ...statePaths(stateDir) },
    upstream: checkUpstream(env),
    timeoutMs,
    timeoutLabel,
    metadataUri,
    pollMs: positiveNumber(env, AGENT_ENV.pollMs) ?? 1000,
    env,
    ...(plan.segment ? { snapshot: snapshotConfig(plan, workspace, env) } : {}),
    ...(plan.remoteServices ? servicesAt(env) : {}),
    ...(plan.role === 'services' && optionalUrl(env, AGENT_ENV.servicesAddressOut) ? { servicesAddressOut: optionalUrl(env, AGENT_ENV.servicesAddressOut)! } : {}),
    ...(positiveNumber(env, AGENT_ENV.servicesReadyPort) !== undefined ? { readyPort: positiveNumber(env, AGENT_ENV.servicesReadyPort)! } : {}),
  };
}

/**
 * The service task's address: an IPv4 or IPv6 address, nothing a wrapper would have to quote;
 * or, when the control plane started this segment together with the service task, the URL at
 * which that task's agent leaves it.
 */
function servicesAt(env: NodeJS.ProcessEnv): { servicesHost: string } | { servicesAddressIn: string } {
  const value = env[AGENT_ENV.servicesHost] ?? '';
  if (value === '') {
    const url = optionalUrl(env, AGENT_ENV.servicesAddressIn);
    if (url !== undefined) return { servicesAddressIn: url };
    throw new ConfigError(
      `agent: neither ${AGENT_ENV.servicesHost} nor ${AGENT_ENV.servicesAddressIn} is set: this segment's services run in the service task, whose private IP (or where to read it) the control plane passes`,
    );
  }
  if (isIP(value) === 0) throw new ConfigError(`agent: ${AGENT_ENV.servicesHost}: expected the service task's private IP address, got ${JSON.stringify(value.slice(0, 64))}`);
  return { servicesHost: value };
}

function optionalUrl(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name] || undefined;
  if (value !== undefined && !/^https?:\/\//.test(value)) throw new ConfigError(`agent: ${name}: expected an http(s) URL`);
  return value;
}

/**
 * The snapshot URLs a segment needs (a later segment reads one, an earlier one writes one),
 * and the workspace volume they carry: the base, when the working directory is below it.
 */
function snapshotConfig(plan: AgentPlan, workspace: string, env: NodeJS.ProcessEnv): NonNullable<AgentConfig['snapshot']> {
  const { number, count } = plan.segment!;
  const url = (name: string, needed: boolean, what: string): string | undefined => {
    const value = env[name] || undefined;
    if (needed && value === undefined) throw new ConfigError(`agent: ${name} is not set: segment ${number} of ${count} needs the presigned URL ${what}`);
    if (value !== undefined && !/^https?:\/\//.test(value)) throw new ConfigError(`agent: ${name}: expected an http(s) URL`);
    return value;
  };
  const inUrl = url(AGENT_ENV.snapshotIn, number > 1, `to read segment ${number - 1}'s workspace from`);
  const outUrl = url(AGENT_ENV.snapshotOut, number < count, 'to leave its workspace at for the next segment');
  const base = plan.workspaceBase ?? plan.workspace;
  const below = base !== plan.workspace && plan.workspace.startsWith(`${base}/`) ? plan.workspace.slice(base.length) : '';
  // A local run moves the working directory (SLIPWAY_WORKSPACE_DIR): the base moves with it.
  const movedBase = below !== '' && workspace.endsWith(below) ? workspace.slice(0, -below.length) : below === '' ? workspace : base;
  return { base: movedBase, ...(inUrl ? { inUrl } : {}), ...(outUrl ? { outUrl } : {}) };
}
