// The agent's container (task-runner: clones, waits for services, supervises the steps)
// and the image it runs for each architecture.

import { COMPILE_PREFIX, type CloneCredentials, type CompileOptions } from './compile-options.js';
import { AGENT_CONTAINER, AGENT_ENV, DEFAULT_AGENT_IMAGE, NETRC_ENV, READY_FILE, type AgentPlan } from './contract.js';
import type { ContainerDefinition } from './ecs-task.js';
import { HEALTH } from './limits.js';
import { logConfiguration } from './log-configuration.js';
import { baseMounts } from './mounts.js';
import type { Arch, Pipeline } from './types.js';

/** The agent image for `arch`; undefined when the deployment has none for it. */
export function agentImageFor(options: Pick<CompileOptions, 'agentImage' | 'agentImages'>, arch: Arch): string | undefined {
  if (options.agentImages) return options.agentImages[arch];
  return options.agentImage ?? DEFAULT_AGENT_IMAGE;
}

/** The agent's container: the one essential container, healthy once the clone and the services are ready. */
export function agentContainer(
  plan: AgentPlan,
  options: CompileOptions,
  pipeline: Pipeline,
  image: string,
  /** Every step container whose records this task holds: its own, and a later segment's earlier ones (which the agent seeds). */
  records: readonly string[] = plan.steps.map((s) => s.container),
): ContainerDefinition {
  // A pipeline that does not clone needs no credentials: the secret is then not even referenced.
  const clone = pipeline.clone.disable ? undefined : options.cloneCredentials;
  return {
    name: AGENT_CONTAINER,
    image,
    essential: true,
    environment: [
      ...(clone
        ? [
            { name: NETRC_ENV.machine, value: clone.machine },
            { name: NETRC_ENV.username, value: clone.username },
          ]
        : []),
      { name: AGENT_ENV.plan, value: JSON.stringify(plan) },
    ],
    ...(clone ? { secrets: [{ name: NETRC_ENV.password, valueFrom: clone.passwordFrom }] } : {}),
    // The agent writes READY_FILE after clone and service readiness. The long start period
    // covers a slow clone; the agent enforces its own timeouts and exits when they pass.
    healthCheck: {
      command: ['CMD-SHELL', `test -f ${READY_FILE}`],
      interval: HEALTH.interval.min,
      timeout: HEALTH.timeout.min,
      retries: HEALTH.retries.max,
      startPeriod: HEALTH.startPeriod.max,
    },
    mountPoints: baseMounts(pipeline, { agent: true, records }),
    logConfiguration: logConfiguration(options, true),
  };
}

/**
 * The agent writes the machine and username into a netrc, whose tokens cannot hold
 * whitespace or quotes. A deployment's setting, not the pipeline's: a plain Error.
 */
export function checkCloneCredentials(clone: CloneCredentials): void {
  for (const [field, value] of [['machine', clone.machine], ['username', clone.username], ['passwordFrom', clone.passwordFrom]] as const) {
    if (value === '' || /[\s"']/.test(value)) {
      throw new Error(`${COMPILE_PREFIX}cloneCredentials.${field} ${JSON.stringify(value)} must be non-empty, without whitespace or quotes`);
    }
  }
}
