// The containers of services, steps and status gates: image, command (the step wrapper
// script, or the image's own entrypoint), environment, secrets, mounts, health check.

import type { CompileScope, Unit } from './compile-scope.js';
import { secretsOf } from './container-secrets.js';
import { AGENT_STATE_VOLUME, STATE_BUSYBOX, STATE_DIR, STATE_VOLUME, STEP_RECORD_VOLUME_PREFIX } from './contract.js';
import { keyValues, type ContainerDefinition, type ContainerDependency } from './ecs-task.js';
import { stepEnvironment } from './environment.js';
import { HEALTH, clamp } from './limits.js';
import { logConfiguration } from './log-configuration.js';
import { baseMounts, stepMounts } from './mounts.js';
import { isPlugin, splitEnvironment } from './pack.js';
import { hasEntrypoint, pluginArgv } from './plugin-command.js';
import { pluginEnvironment } from './plugin-settings.js';
import { pluginScript, stepScript, type UpstreamEdge } from './script.js';
import type { StepKind } from './step-order.js';
import type { EnvValue, Step } from './types.js';

const SHELL = '/bin/sh';

/** A service: non-essential, started with the task, healthy when its `ready.command` says so. */
export function serviceContainer(service: Step, container: string, c: CompileScope): ContainerDefinition {
  const env = environmentOf(service, c);
  // Slipway's state directory holds what the agent installs (the launcher's busybox, under which
  // plugin steps run) after the services have started: a service cannot run from it, and a
  // service that claimed the launcher's command line would pass for a launched plugin step.
  const program = service.entrypoint?.[0];
  if (program !== undefined && (program === STATE_DIR || program.startsWith(`${STATE_DIR}/`))) {
    c.fail(service.pos, `service "${service.name}": entrypoint ${program} is in ${STATE_DIR}, Slipway's own directory, which the agent fills after services start: give a program of the service's image`);
  }
  const def: ContainerDefinition = {
    name: container,
    image: service.image,
    essential: false,
    // No startTimeout: ECS times it from this container's own start, for every dependent
    // not yet started, even once it is healthy (aws/amazon-ecs-agent
    // agent/engine/dependencygraph/graph.go, hasDependencyTimedOut), so a clone plus
    // readiness longer than it would stop the first steps (exit 143). The agent enforces
    // `ready.timeout` itself and says which service was not ready.
    ...commandOf([service], container, env, c, undefined, undefined, [], Object.keys(env.literal), false),
    ...(service.user ? { user: service.user } : {}),
    ...(service.workingDir ? { workingDirectory: service.workingDir } : {}),
    environment: keyValues(env.literal),
    ...secretsOf(env.secrets, c),
    mountPoints: [...baseMounts(c.pipeline, { service: true }), ...stepMounts([service], c.pipeline, c.fail)],
    ...resources(service),
    logConfiguration: logConfiguration(c.options),
  };
  if (service.ready?.command) def.healthCheck = healthCheck(service);
  return def;
}

function healthCheck(step: Step): ContainerDefinition['healthCheck'] {
  const ready = step.ready!;
  return {
    command: ['CMD-SHELL', ready.command!],
    interval: clamp(ready.interval, HEALTH.interval),
    timeout: clamp(Math.min(ready.interval, 5), HEALTH.timeout),
    retries: HEALTH.retries.max,
    startPeriod: clamp(ready.timeout, HEALTH.startPeriod),
  };
}

/** Commands → the wrapper script; otherwise the image's entrypoint, or the step's `entrypoint`/`command`. */
function commandOf(
  steps: Step[],
  container: string,
  env: { secrets: Record<string, string> },
  c: CompileScope,
  gate: { watch: string[] } | undefined,
  waitFor: string[] | undefined,
  exports: Record<string, string>[] = [],
  ownEnv: string[] = [],
  launchPlugin = true,
  earlyExit: 'skip' | 'run' = 'skip',
  afterSetup: 'wait' | 'skip-on-failure' | undefined = undefined,
  earlier: string[] = [],
  upstream: UpstreamEdge[] = [],
  marks: Pick<Unit, 'upMarker' | 'startDependents'> = {},
): Pick<ContainerDefinition, 'entryPoint' | 'command'> & { image?: string } {
  const first = steps[0]!;
  if (first.commands.length === 0) {
    // Services are never launched: they start with the task, before the agent has installed
    // the busybox a launcher runs under (the stage notes say their output is not masked).
    // A plugin step whose command line is known runs under the launcher (pluginScript), which
    // gives it the build's DRONE_* variables from the agent's env file; otherwise it runs its
    // image's entrypoint as is and gets them through RunTask's overrides (run-task.ts).
    const secretEnv = c.withSecrets && launchPlugin ? Object.keys(env.secrets).sort() : [];
    const argv = launchPlugin ? pluginArgv(first, c.pipeline.platform.arch, c.options.imageCommands) : { kind: 'unknown' as const };
    if (argv.kind === 'error' && secretEnv.length > 0) {
      return c.fail(
        first.pos,
        `step "${first.name}" receives secrets (${secretEnv.join(', ')}), so its output is masked, which needs the command line its image runs: ${argv.message}. ` +
          `Set the step's entrypoint to the program its image runs (entrypoint: [/path/to/program], plus command: for its arguments) and the registry is not asked`,
      );
    }
    if (argv.kind === 'known') {
      const script = pluginScript({
        container,
        name: first.name,
        hosts: c.hosts.filter((h) => h !== first.name),
        ...(c.hostsRemote ? { hostsRemote: true } : {}),
        secretEnv,
        ownEnv: [...new Set([...ownEnv, ...secretEnv])].sort(),
      });
      return { entryPoint: [STATE_BUSYBOX, 'sh', '-c'], command: [script, `slipway-${container}`, ...argv.argv], ...(argv.image ? { image: argv.image } : {}) };
    }
    return {
      ...(hasEntrypoint(first) ? { entryPoint: first.entrypoint } : {}),
      ...(first.command ? { command: first.command } : {}),
    };
  }
  const script = stepScript({
    container,
    steps: steps.map((s, i) => ({ name: s.name, commands: s.commands, ...(exports[i] && Object.keys(exports[i]!).length ? { exports: exports[i] } : {}) })),
    workdir: first.workingDir ?? c.pipeline.workspace.path,
    hosts: c.hosts.filter((h) => !steps.some((s) => s.name === h)),
    ...(c.hostsRemote ? { hostsRemote: true } : {}),
    secretEnv: c.withSecrets ? Object.keys(env.secrets).sort() : [],
    ownEnv: [...new Set([...ownEnv, ...(c.withSecrets ? Object.keys(env.secrets) : [])])].sort(),
    ...(gate ? { gate } : {}),
    ...(waitFor && waitFor.length > 0 ? { waitFor } : {}),
    ...(earlyExit === 'run' ? { earlyExit } : {}),
    ...(c.detached.length > 0 ? { detached: c.detached } : {}),
    ...(afterSetup ? { afterSetup: true } : {}),
    ...(afterSetup === 'skip-on-failure' ? { skipAfterFailedSetup: true } : {}),
    ...(earlier.length > 0 ? { earlier } : {}),
    ...(upstream.length > 0 ? { upstream } : {}),
    ...(marks.upMarker ? { upMarker: true } : {}),
    ...(marks.startDependents && marks.startDependents.length > 0 ? { startDependents: marks.startDependents } : {}),
  });
  return { entryPoint: [first.shell ?? SHELL, '-c'], command: [script] };
}

/** A step container: one step, or steps packed together, started when its dependencies allow. */
export function stepContainer(
  u: Unit,
  dependsOn: ContainerDependency[],
  stepNumber: (s: Step) => number,
  watched: string[],
  c: CompileScope,
  /** A plain step in a later segment of a split pipeline: the earlier segments' containers whose failure skips it. */
  earlier: string[] = [],
): ContainerDefinition {
  const first = u.steps[0]!;
  const envs = u.steps.map((s) => environmentOf(s, c));
  const literals = u.steps.map((s, i) => ({
    ...(isPlugin(s) ? { ...c.pluginEnv, ...statusEnv(u.kind) } : {}),
    ...envs[i]!.literal,
    ...stepEnvironment({ name: s.name, number: stepNumber(s) }),
  }));
  const { common, own } = u.steps.length > 1 ? splitEnvironment(literals) : { common: literals[0]!, own: [] };
  const gate = u.kind === 'failure-only' && !isPlugin(first) ? { watch: watched.filter((w) => w !== u.container) } : undefined;
  // What the env file must not replace: the step's own variables, and a plugin's status as its gate decided it.
  const ownNames = [...Object.keys(common).filter((name) => envs.some((e) => name in e.literal)), ...(isPlugin(first) ? Object.keys(statusEnv(u.kind)) : [])];
  const def: ContainerDefinition = {
    name: u.container,
    image: first.image,
    essential: false,
    // A step that runs on success and failure runs after an early exit too (script.ts).
    ...commandOf(u.steps, u.container, envs[0]!, c, gate, u.waitFor, own, ownNames, true, u.kind === 'always' ? 'run' : 'skip', u.kind === 'plain' ? 'skip-on-failure' : 'wait', earlier, u.upstream, { upMarker: u.upMarker === true && !u.gate, ...(u.startDependents ? { startDependents: u.startDependents } : {}) }),
    // A detached step without commands runs like a service, in its image's own working
    // directory (drone-runner-docker engine/compiler/workspace.go setupWorkdir).
    ...(first.workingDir || !(first.detach && first.commands.length === 0) ? { workingDirectory: first.workingDir ?? c.pipeline.workspace.path } : {}),
    ...(first.user ? { user: first.user } : {}),
    environment: keyValues(common),
    ...secretsOf(envs[0]!.secrets, c),
    mountPoints: [...baseMounts(c.pipeline, { own: u.container, records: c.records }), ...stepMounts(u.steps, c.pipeline, c.fail)],
    // None: it starts with the task (a wrapped step that waits for the agent and its upstream in its wrapper).
    ...(dependsOn.length > 0 ? { dependsOn } : {}),
    ...resources(first),
    logConfiguration: logConfiguration(c.options),
  };
  // No startTimeout here either (see serviceContainer): a step after a detached one may wait
  // for other steps far longer. The agent enforces the detached step's `ready.timeout`.
  if (first.detach && first.ready?.command) def.healthCheck = healthCheck(first);
  return def;
}

/** What a plugin step can know of the build's status when it starts: only its gate tells. */
function statusEnv(kind: StepKind): Record<string, string> {
  if (kind === 'always') return {};
  const status = kind === 'plain' ? 'success' : 'failure';
  return { DRONE_BUILD_STATUS: status, DRONE_STAGE_STATUS: status };
}

/** The gate of a status-conditional plugin step (gateContainerScript). */
export function gateContainer(name: string, step: string, script: string, dependsOn: ContainerDependency[], c: CompileScope): ContainerDefinition {
  // It reads the records it waits for and watches, and the agent's (its setup record, read
  // only), and writes only its step's (`.skipped`).
  const records = baseMounts(c.pipeline, { own: step, records: c.records }).filter(
    (m) => m.sourceVolume === STATE_VOLUME || m.sourceVolume === AGENT_STATE_VOLUME || m.sourceVolume!.startsWith(STEP_RECORD_VOLUME_PREFIX),
  );
  return {
    name,
    image: c.agentImage,
    essential: false,
    entryPoint: [SHELL, '-c'],
    command: [script],
    mountPoints: records,
    dependsOn,
    logConfiguration: logConfiguration(c.options),
  };
}

/** Literal variables and secret references of a step: the pipeline's, then the step's, then plugin settings. */
function environmentOf(step: Step, c: CompileScope): { literal: Record<string, string>; secrets: Record<string, string> } {
  const literal: Record<string, string> = {};
  const secrets: Record<string, string> = {};
  const put = (name: string, value: EnvValue) => {
    if ('value' in value) {
      literal[name] = value.value;
      delete secrets[name];
    } else {
      secrets[name] = value.fromSecret;
      delete literal[name];
    }
  };
  for (const [name, value] of Object.entries(c.pipeline.environment)) put(name, value);
  for (const [name, value] of Object.entries(step.environment)) put(name, value);
  if (Object.keys(step.settings).length > 0) {
    const plugin = pluginEnvironment(step.settings);
    for (const [name, value] of Object.entries(plugin.env)) put(name, { value });
    for (const [name, secret] of Object.entries(plugin.secrets)) put(name, { fromSecret: secret });
  }
  return { literal, secrets };
}

function resources(step: Step): Pick<ContainerDefinition, 'cpu' | 'memoryReservation'> {
  return {
    ...(step.resources?.cpu ? { cpu: step.resources.cpu } : {}),
    ...(step.resources?.memory ? { memoryReservation: step.resources.memory } : {}),
  };
}
