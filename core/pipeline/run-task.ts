// The per-run part of RunTask: the overrides that carry the build (the agent's context and
// the plugins' DRONE_* variables), the clientToken (the stage id), the network and the tags.

import type { CompileOptions } from './compile-options.js';
import type { BuildContext } from './context.js';
import { AGENT_CONTAINER, AGENT_ENV } from './contract.js';
import { keyValues, type ContainerOverride, type RunTaskInput, type Tag } from './ecs-task.js';
import { buildEnvironment, type StageEnvInput } from './environment.js';
import { MAX_CLIENT_TOKEN, MAX_OVERRIDE_CHARS, jsonChars } from './limits.js';
import { FORK_ROLE_RESERVE, REMOTE_SERVICES_RESERVE, SEGMENT_RESERVE, SERVICE_TASK_RESERVE, UPSTREAM_RESERVE, fitFreeText } from './override-budget.js';
import { pluginRunEnvironment } from './plugin-run-env.js';
import type { Pipeline, Position } from './types.js';

export interface RunTaskSource {
  pipeline: Pipeline;
  ctx: BuildContext;
  options: CompileOptions;
  /** 1-based position of the pipeline in its file. */
  stageNumber: number;
  /** What the stage's DRONE_* variables are made of. */
  stage: StageEnvInput;
  /** The task definition's family. */
  family: string;
  /** Plugin containers that run their image's entrypoint without a launcher (its command line unknown): they get the build's DRONE_* variables here. */
  pluginContainers: string[];
  /** Per-run variables of other containers (the tags auto_tag gives an image build step, image-build.ts). */
  containerEnv?: { container: string; env: (ctx: BuildContext) => Record<string, string> }[];
  /** A segment of a split pipeline: room is kept for its snapshot URLs (override-budget.ts, SEGMENT_RESERVE). */
  segment?: boolean;
  /** Gets what a user should know (free text cut to fit). */
  notes: string[];
  fail: (pos: Position, message: string) => never;
  /** A segment whose services run in the service task: room is kept for their address (REMOTE_SERVICES_RESERVE). */
  remoteServices?: boolean;
  /** The service task of a split pipeline: room is kept for the URL its agent leaves its address at (SERVICE_TASK_RESERVE). */
  serviceTask?: boolean;
  /** A pull request from a fork: room is kept for the fork roles the autoscaler names (FORK_ROLE_RESERVE). */
  forkRole?: boolean;
}

/** RunTask's input for one run of the stage. */
export function runTaskInput({ pipeline, ctx, options, stageNumber, stage, family, pluginContainers, containerEnv = [], segment = false, notes, fail, remoteServices = false, serviceTask = false, forkRole = false }: RunTaskSource): RunTaskInput {
  const stageId = (options.stageId ?? defaultStageId(ctx))(pipeline, stageNumber);
  if (stageId.length === 0 || stageId.length > MAX_CLIENT_TOKEN) {
    fail(pipeline.pos, `the stage id ${JSON.stringify(stageId)} cannot be a RunTask clientToken (1 to ${MAX_CLIENT_TOKEN} characters)`);
  }
  const overridesFor = (runCtx: BuildContext): { containerOverrides: ContainerOverride[] } => {
    // The same for every plugin step of the stage: computed once, copied per override.
    const pluginRunEnv = pluginContainers.length > 0 ? keyValues(pluginRunEnvironment(buildEnvironment(runCtx, stage))) : [];
    return {
      containerOverrides: [
        {
          name: AGENT_CONTAINER,
          environment: [
            { name: AGENT_ENV.build, value: JSON.stringify(agentContext(runCtx)) },
            { name: AGENT_ENV.stageId, value: stageId },
          ],
        },
        ...pluginContainers.map((name) => ({ name, environment: pluginRunEnv.map((kv) => ({ ...kv })) })),
        ...containerEnv
          .map(({ container, env }) => ({ name: container, environment: keyValues(env(runCtx)) }))
          .filter((o) => o.environment.length > 0),
      ],
    };
  };
  // Long free text (commit message, PR title, author) is cut to fit, the same for the
  // agent and the plugins (override-budget.ts).
  // What the control plane adds when it starts the stage (SLIPWAY_UPSTREAM; a segment's
  // snapshot URLs and time left, its services' address when they are remote; the service task's
  // address URL and time left) has its room kept.
  // A fork's stage also gets its execution and task roles in the overrides (FORK_ROLE_RESERVE).
  const reserved = UPSTREAM_RESERVE + (segment ? SEGMENT_RESERVE : 0) + (remoteServices ? REMOTE_SERVICES_RESERVE : 0) + (serviceTask ? SERVICE_TASK_RESERVE : 0) + (forkRole ? FORK_ROLE_RESERVE : 0);
  const overrideBudget = MAX_OVERRIDE_CHARS - reserved;
  const fitted = fitFreeText(ctx, (c) => jsonChars(overridesFor(c)), overrideBudget);
  const overrides = overridesFor(fitted.ctx);
  if (fitted.truncated.length > 0) {
    notes.push(
      `${fitted.truncated.map((t) => `the ${t.field} (${t.from} characters)`).join(', ')} ${fitted.truncated.length > 1 ? 'were' : 'was'} cut to ` +
        `${Math.max(...fitted.truncated.map((t) => t.to))} characters in what the steps receive: RunTask overrides hold at most ${MAX_OVERRIDE_CHARS} characters`,
    );
  }
  const overrideChars = jsonChars(overrides);
  if (overrideChars > overrideBudget) {
    const parts = overrides.containerOverrides.map((o) => `${o.name} ${jsonChars(o)}`).join(', ');
    fail(
      pipeline.pos,
      `its per-run overrides are ${overrideChars} characters but RunTask accepts at most ${MAX_OVERRIDE_CHARS}, ${reserved} of them kept for ${segment ? "the build's state and the segment's snapshot URLs" : "the build's state"} at start (${parts}), and cutting the commit message short cannot make them fit: ` +
        `each step without commands (a plugin) whose image's command line is unknown here (${pluginContainers.join(', ')}) receives the build's DRONE_* variables this way — ` +
          `set the entrypoint: of those steps (the program their image runs), so that they read them from the agent's env file, or use fewer plugin steps in one pipeline`,
    );
  }

  return {
    ...(options.cluster ? { cluster: options.cluster } : {}),
    taskDefinition: family,
    count: 1,
    // No launchType: the autoscaler chooses capacity (a capacityProviderStrategy), and ECS
    // rejects a request that has both.
    ...(options.spot ? { capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }] } : {}),
    ...(options.network
      ? {
          networkConfiguration: {
            awsvpcConfiguration: {
              subnets: options.network.subnets,
              securityGroups: options.network.securityGroups,
              assignPublicIp: options.network.assignPublicIp ? 'ENABLED' : 'DISABLED',
            },
          },
        }
      : {}),
    overrides,
    clientToken: stageId,
    startedBy: 'slipway',
    enableECSManagedTags: true,
    tags: runTags(ctx, pipeline, stageId),
  };
}

function defaultStageId(ctx: BuildContext): (pipeline: Pipeline, stageNumber: number) => string {
  return (_pipeline, stageNumber) => `${ctx.repo.slug.replace(/[^A-Za-z0-9_-]/g, '-')}-${ctx.build.number}-${stageNumber}`.slice(-MAX_CLIENT_TOKEN);
}

/**
 * The context the agent receives. Changed files are left out: they only feed `paths`
 * conditions, which the compiler has already evaluated, and a large push would
 * overflow RunTask's 8 KiB of overrides.
 */
function agentContext(ctx: BuildContext): BuildContext {
  const { changedFiles: _changed, ...rest } = ctx;
  return rest;
}

/** Tag values allow letters, digits, spaces and `_ . : / = + - @`, up to 256 characters. */
function tagValue(value: string): string {
  return value.replace(/[^A-Za-z0-9 _.:/=+\-@]/g, '_').slice(0, 256);
}

function runTags(ctx: BuildContext, pipeline: Pipeline, stageId: string): Tag[] {
  return [
    { key: 'slipway:repo', value: tagValue(ctx.repo.slug) },
    { key: 'slipway:build', value: String(ctx.build.number) },
    { key: 'slipway:pipeline', value: tagValue(pipeline.name) },
    { key: 'slipway:stage', value: tagValue(stageId) },
  ];
}
