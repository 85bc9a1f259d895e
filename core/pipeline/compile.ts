// A pipeline plus one build's context → what ECS runs: a task definition (the same for
// every run of the pipeline, so its family is a hash of its content) and the per-run
// part of RunTask (overrides, clientToken, tags). Pure: no I/O, no clock, no randomness.
//
// The task: the agent (the one essential container: clones, waits for services, then
// reports healthy through READY_FILE), services (non-essential, start at once), steps
// (non-essential, ordered by dependsOn, see step-order.ts) and gate containers for
// plugin steps with a status condition (they wait for their upstream and decide there). Every container mounts the workspace and the
// state volume.

import type {
  ContainerDefinition,
  ContainerDependency,
  ContainerOverride,
  KeyValuePair,
  MountPoint,
  RegisterTaskDefinitionCommandInput,
  RunTaskCommandInput,
  Secret,
  Tag,
  Volume as TaskVolume,
} from '@aws-sdk/client-ecs';
import { conditionInput, conditionsMatch, skipReason, type ConditionInput } from './conditions.js';
import { NameAllocator, ecsSafeName } from './container-names.js';
import type { BuildContext } from './context.js';
import {
  AGENT_CONTAINER,
  AGENT_ENV,
  DEFAULT_AGENT_IMAGE,
  NETRC_ENV,
  STATE_BUSYBOX,
  READY_FILE,
  STATE_DIR,
  STATE_VOLUME,
  AGENT_STATE_DIR,
  AGENT_STATE_VOLUME,
  WORKSPACE_VOLUME,
  type AgentPlan,
  type AgentStepPlan,
  type ContainerDependencyCondition,
} from './contract.js';
import { buildEnvironment, stepEnvironment, type StageEnvInput } from './environment.js';
import { familyName } from './family.js';
import { fargateSize } from './fargate-size.js';
import { HEALTH, MAX_CLIENT_TOKEN, MAX_CONTAINERS, MAX_DEFINITION_BYTES, MAX_OVERRIDE_CHARS, EPHEMERAL_STORAGE, clamp, jsonChars } from './limits.js';
import { fitContainers, isPlugin, splitEnvironment, tooManyContainersMessage, type PackUnit } from './pack.js';
import { pluginRunEnvironment, pluginStructuralEnvironment } from './plugin-run-env.js';
import { fitFreeText } from './override-budget.js';
import { pluginEnvironment } from './plugin-settings.js';
import { hasEntrypoint, pluginArgv, type ImageCommands } from './plugin-command.js';
import { gateContainerScript, pluginScript, stepScript } from './script.js';
import { SECRET_NAME } from './secret-names.js';
import { planPullCredentials, registryHost } from './pull-credentials.js';
import { stepDependencies, stepKind, type OrderedStep, type StepKind } from './step-order.js';
import type { Arch, Conditions, Diagnostic, EnvValue, Manifest, Pipeline, Position, SecretDocument, Step } from './types.js';

export interface CompileOptions {
  /** Image of the agent (task-runner) for every architecture: a multi-arch image (manifest list). */
  agentImage?: string;
  /**
   * The agent image of each architecture (single-platform images, one per Fargate
   * runtimePlatform). When given it wins over `agentImage`, and a pipeline whose `platform.arch`
   * has none here is refused: ECS would stop its task with CannotPullContainerError.
   */
  agentImages?: Partial<Record<Arch, string>>;
  /** CloudWatch Logs group of every container. */
  logGroup: string;
  region: string;
  /**
   * Makes SSM secret references full ARNs (without it they are parameter names, same region);
   * Secrets Manager references (`kind: secret` documents) always need it.
   */
  accountId?: string;
  /** The account's partition (`aws`, `aws-cn`, `aws-us-gov`): every ARN the compiler writes is in it. Needed with `accountId`. */
  partition?: string;
  /**
   * Secret references (`valueFrom`, as the compiler writes them) that the planner found do not
   * exist. ECS fetches every secret of the task before any container starts, so one missing
   * reference would stop the whole task (ResourceInitializationError); these are left out
   * instead, the variable stays unset (Drone gives an empty value), and the stage notes say so.
   */
  absentSecrets?: ReadonlySet<string>;
  executionRoleArn?: string;
  /** Role the build's containers get; none (no AWS credentials) unless the repository is allowed one. */
  taskRoleArn?: string;
  /** Task size when the pipeline asks for nothing bigger (CPU units, MiB). */
  defaultCpu?: number;
  defaultMemory?: number;
  /** The stage id (build id + stage number): RunTask's clientToken. Defaults to repo/build/stage. */
  stageId?: (pipeline: Pipeline, stageNumber: number) => string;
  /** False for pull requests from forks: steps then get no `secrets`. Defaults to "not a fork". */
  withSecrets?: boolean;
  /** Where repository secrets live: `PREFIX/OWNER/NAME/SECRET`; default `/slipway`. */
  secretsPrefix?: string;
  /**
   * SSM parameter path of a repository secret; default `SECRETS_PREFIX/OWNER/NAME/SECRET`.
   * `secretPath(slug, '')` is the repository's own prefix: a `kind: secret` document may
   * only name a secret under it.
   */
  secretPath?: (repoSlug: string, secret: string) => string;
  cluster?: string;
  network?: { subnets: string[]; securityGroups: string[]; assignPublicIp?: boolean };
  /** Run on Fargate Spot (capacity provider strategy) instead of the FARGATE launch type. */
  spot?: boolean;
  /**
   * How the agent authenticates its clone (private repositories). The same for every run of
   * the repository, so it is part of the task definition: the machine and username as plain
   * environment, the password only as a `secrets` reference that ECS resolves at task start.
   * The agent alone gets it, forks included (it is the system's token, not a repository
   * secret); steps never do.
   */
  cloneCredentials?: CloneCredentials;
  /**
   * What plugin images run (their ENTRYPOINT and CMD), read from their registries by the
   * planner (plugin-command.ts, imageCommandQueries). A plugin step that receives secrets
   * runs under a masking wrapper that needs it; without an answer for its image (no lookup,
   * as in `slipway compile`) the step runs unmasked and the stage says so in its notes.
   */
  imageCommands?: ImageCommands;
}

/** Drone's DRONE_NETRC_* for the agent; `passwordFrom` is an ECS `valueFrom` (SSM parameter or Secrets Manager ARN[:key::]). */
export interface CloneCredentials {
  machine: string;
  username: string;
  passwordFrom: string;
}

export interface CompiledStage {
  name: string;
  dependsOn: string[];
  taskDefinition: RegisterTaskDefinitionCommandInput;
  runTask: Partial<RunTaskCommandInput>;
  skippedSteps: { name: string; reason: string }[];
  plan: AgentPlan;
  /** Things a user should know that do not stop the stage (secrets withheld, packing). */
  notes: string[];
}

export interface CompileResult {
  stages: CompiledStage[];
  skipped: { name: string; reason: string }[];
}

/** Prefix of every compiler message. */
export const COMPILE_PREFIX = 'compile: ';

/** What keeps a pipeline from becoming a task; `diagnostics` point into the file. */
export class CompileError extends Error {
  readonly diagnostics: Diagnostic[];
  constructor(diagnostics: Diagnostic[]) {
    super(diagnostics.map((d) => `${d.file}:${d.line}:${d.column}: ${d.message}`).join('\n'));
    this.name = 'CompileError';
    this.diagnostics = diagnostics;
  }
}

const DEFAULT_CPU = 1024;
const DEFAULT_MEMORY = 2048;
const SHELL = '/bin/sh';
const LOG_STREAM_PREFIX = 'slipway';

/** Every pipeline of a manifest whose trigger matches; the others with the reason. */
export function compileManifest(manifest: Manifest, ctx: BuildContext, options: CompileOptions): CompileResult {
  const input = conditionInput(ctx);
  const skipped = manifest.skipped.map((s) => ({ name: s.name, reason: s.reason }));
  const chosen: { pipeline: Pipeline; number: number }[] = [];
  manifest.pipelines.forEach((pipeline, i) => {
    const reason = mismatchReason(pipeline.trigger, input);
    if (reason !== undefined) skipped.push({ name: pipeline.name, reason: `trigger: ${reason}` });
    else chosen.push({ pipeline, number: i + 1 });
  });
  const names = new Set(chosen.map((c) => c.pipeline.name));
  const stageDependencies = runningDependencies(manifest.pipelines, names);
  const stages: CompiledStage[] = [];
  const errors: Diagnostic[] = [];
  for (const { pipeline, number } of chosen) {
    try {
      const stage = compilePipeline(pipeline, ctx, options, { file: manifest.file, secrets: manifest.secrets, stageNumber: number });
      // A pipeline left out by its trigger is seen through: its dependents wait for what it
      // waited for, as Drone does.
      stage.dependsOn = stageDependencies(pipeline.name);
      stages.push(stage);
    } catch (error) {
      if (!(error instanceof CompileError)) throw error;
      errors.push(...error.diagnostics);
    }
  }
  if (errors.length > 0) throw new CompileError(errors);
  return { stages, skipped };
}

/**
 * The pipelines a running pipeline waits for, through those that do not run: a pipeline
 * left out by its trigger hands its own `depends_on` to its dependents (as a step left out
 * by `when:` does, see step-order.ts). Names of no docker pipeline (reported by lint) drop out.
 */
function runningDependencies(pipelines: readonly Pipeline[], running: ReadonlySet<string>): (name: string) => string[] {
  const byName = new Map(pipelines.map((p) => [p.name, p] as const));
  return (name) => {
    const out: string[] = [];
    const seen = new Set<string>([name]);
    const visit = (of: string) => {
      for (const dep of byName.get(of)?.dependsOn ?? []) {
        if (seen.has(dep)) continue;
        seen.add(dep);
        if (running.has(dep)) out.push(dep);
        else visit(dep);
      }
    };
    visit(name);
    return out;
  };
}

/** Why a trigger or a `when:` leaves its pipeline or step out of this build; undefined when it runs. */
function mismatchReason(conditions: Conditions, input: ConditionInput): string | undefined {
  if (conditionsMatch(conditions, input)) return undefined;
  return skipReason(conditions, input) ?? 'does not match this build';
}

export interface PipelineSource {
  file?: string;
  secrets?: SecretDocument[];
  /** 1-based position of the pipeline in its file (DRONE_STAGE_NUMBER). */
  stageNumber?: number;
}

interface Unit extends PackUnit {
  container: string;
  gate?: string;
  /** Status-conditional units: the containers whose end the wrapper (or gate) waits for. */
  waitFor?: string[];
}

/** One pipeline → one stage. The pipeline's trigger is not checked here (compileManifest does). */
export function compilePipeline(pipeline: Pipeline, ctx: BuildContext, options: CompileOptions, source: PipelineSource = {}): CompiledStage {
  const file = source.file ?? '.drone.yml';
  const fail = (pos: Position, message: string): never => {
    throw new CompileError([{ file, line: pos.line, column: pos.column, severity: 'error', message: `${COMPILE_PREFIX}pipeline "${pipeline.name}": ${message}` }]);
  };
  const input = conditionInput(ctx);
  const stageNumber = source.stageNumber ?? 1;
  const withSecrets = options.withSecrets ?? !(ctx.build.event === 'pull_request' && ctx.pullRequest?.fork === true);
  const notes: string[] = [];

  if (options.cloneCredentials) checkCloneCredentials(options.cloneCredentials);
  for (const s of [...pipeline.services, ...pipeline.steps]) {
    if (s.privileged) fail(s.pos, `"${s.name}" asks for privileged mode, which Fargate cannot give: build images with a daemonless tool (kaniko) instead`);
  }

  // Steps that run: `when:` except status is decided now; status partly at run time.
  const skippedSteps: { name: string; reason: string }[] = [];
  const active = new Map<string, OrderedStep>();
  for (const step of pipeline.steps) {
    const reason = mismatchReason(step.when, input);
    if (reason !== undefined) {
      skippedSteps.push({ name: step.name, reason: `when: ${reason}` });
      continue;
    }
    const kind = stepKind(step);
    if (!kind) {
      skippedSteps.push({ name: step.name, reason: 'when: its status condition matches neither success nor failure' });
      continue;
    }
    active.set(step.name, { step, kind });
  }
  const order = stepDependencies(pipeline.steps, active);
  const linear = !pipeline.steps.some((s) => s.dependsOn.length > 0);

  // Containers: the agent, services, steps (packed when over the limit), gates.
  const fit = fitContainers(pipeline.services.length, [...active.values()].map((o) => ({ steps: [o.step], kind: o.kind })), linear);
  const units = fit.units;
  if (fit.after > MAX_CONTAINERS) fail(pipeline.pos, tooManyContainersMessage(fit, pipeline.services.length, active.size, linear));
  if (fit.before > MAX_CONTAINERS) {
    for (const u of units) {
      if (u.steps.length > 1) notes.push(`steps ${u.steps.map((s) => JSON.stringify(s.name)).join(', ')} share one container (ECS allows ${MAX_CONTAINERS} containers per task)`);
    }
  }

  const names = new NameAllocator([AGENT_CONTAINER, WORKSPACE_VOLUME, STATE_VOLUME, AGENT_STATE_VOLUME]);
  const serviceContainers = pipeline.services.map((s) => names.allocate(s.name, 'service'));
  const compiledUnits: Unit[] = units.map((u) => ({ ...u, container: names.allocate(u.steps[0]!.name, 'step') }));
  for (const u of compiledUnits) {
    if (u.kind !== 'plain' && isPlugin(u.steps[0]!)) u.gate = names.allocate(`${u.container}-gate`, 'gate');
  }
  const containerOf = new Map<string, string>();
  for (const u of compiledUnits) for (const s of u.steps) containerOf.set(s.name, u.container);
  for (const u of compiledUnits) {
    if (u.kind === 'plain') continue;
    const after = u.steps.flatMap((s) => order.get(s.name)!.after.map((n) => containerOf.get(n)!));
    u.waitFor = [...new Set(after)].filter((c) => c !== u.container);
  }
  // A plugin that runs only on failure never starts when its gate skips it, so it would
  // never satisfy COMPLETE: a plain step after it waits for the gate instead (which always
  // ends; when it lets the plugin run, the build is failing and a SUCCESS further up blocks).
  const gateOf = new Map(compiledUnits.filter((u) => u.gate && u.kind === 'failure-only').map((u) => [u.container, u.gate!] as const));

  // Root dependencies: the agent healthy, and services with a health command healthy.
  const rootDeps: ContainerDependency[] = [{ containerName: AGENT_CONTAINER, condition: 'HEALTHY' }];
  pipeline.services.forEach((s, i) => {
    if (s.ready?.command) rootDeps.push({ containerName: serviceContainers[i]!, condition: 'HEALTHY' });
  });
  const unitDeps = (u: Unit): ContainerDependency[] => {
    const deps = new Map<string, ContainerDependency['condition']>();
    let root = false;
    for (const s of u.steps) {
      const d = order.get(s.name)!;
      root ||= d.root;
      for (const on of d.on) {
        const target = containerOf.get(on.step)!;
        const c = on.condition === 'COMPLETE' ? (gateOf.get(target) ?? target) : target;
        if (target !== u.container && !deps.has(c)) deps.set(c, on.condition);
      }
    }
    return [...(root ? rootDeps : []), ...[...deps].map(([containerName, condition]) => ({ containerName, condition }))];
  };
  // Failing = a step whose failure counts (not ignored, not a background step) exited non-zero.
  const watched = compiledUnits.filter((u) => !u.steps[0]!.detach && u.steps.every((s) => s.failure !== 'ignore')).map((u) => u.container);

  const hosts = [...pipeline.services.map((s) => s.name), ...[...active.values()].filter((o) => o.step.detach).map((o) => o.step.name)];
  const secretRef = (secret: string) => secretArn(secret, ctx, options, source.secrets ?? [], (m, pos) => fail(pos ?? pipeline.pos, m));
  const withheld = new Set<string>();
  const absent = new Set<string>();
  const agentImage = agentImageFor(options, pipeline.platform.arch);
  if (agentImage === undefined) {
    const have = Object.keys(options.agentImages ?? {}).sort();
    fail(
      pipeline.pos,
      `platform: arch ${pipeline.platform.arch}: this deployment has no ${pipeline.platform.arch} agent image (it has ${have.join(', ') || 'none'}), ` +
        `so ECS could not start the task (CannotPullContainerError): ask an administrator to deploy the ${pipeline.platform.arch} agent image (see README, "Agent images"), or use arch ${have[0] ?? 'amd64'}`,
    );
  }
  const runEnv = buildEnvironment(ctx, stageEnv(pipeline, stageNumber));
  const anyPlugin = [...active.values()].some((o) => isPlugin(o.step));
  const common = { pipeline, options, withSecrets, withheld, absent, agentImage: agentImage!, secretRef, hosts, fail, pluginEnv: anyPlugin ? pluginStructuralEnvironment(runEnv) : {} };

  const containers: ContainerDefinition[] = [];
  const plan: AgentPlan = {
    version: 1,
    pipeline: pipeline.name,
    workspace: pipeline.workspace.path,
    timeoutMinutes: pipeline.timeout,
    clone: pipeline.clone,
    services: [],
    steps: [],
    stage: { number: stageNumber, dependsOn: [...pipeline.dependsOn] },
  };
  containers.push({} as ContainerDefinition); // the agent, filled in once the plan is complete

  pipeline.services.forEach((service, i) => {
    const container = serviceContainers[i]!;
    const def = serviceContainer(service, container, common);
    containers.push(def);
    if (service.commands.length === 0 && def.secrets && def.secrets.length > 0) {
      notes.push(
        `service "${service.name}" receives the secrets ${def.secrets.map((s) => s.name).join(', ')} but keeps its image's entrypoint: ` +
          `services start before the agent, so their output is not masked (give it commands: to have it masked)`,
      );
    }
    plan.services.push({
      name: service.name,
      container,
      ports: service.ready?.ports ?? [],
      healthCommand: Boolean(service.ready?.command),
      timeout: service.ready?.timeout ?? 60,
    });
  });

  // Containers that run their image's entrypoint and cannot source the env file: they get
  // the build's DRONE_* variables as a per-run override (plugin-run-env.ts).
  const pluginContainers: string[] = [];
  const stepNumber = (step: Step) => pipeline.steps.indexOf(step) + 1 + (pipeline.clone.disable ? 0 : 1);
  for (const u of compiledUnits) {
    const dependsOn = unitDeps(u);
    const first = u.steps[0]!;
    let stepDependsOn = dependsOn;
    if (u.gate) {
      const watch = u.kind === 'failure-only' ? watched.filter((c) => c !== u.container) : undefined;
      containers.push(gateContainer(u.gate, gateContainerScript(watch, u.container, first.name, u.waitFor ?? []), dependsOn, common));
      stepDependsOn = [{ containerName: u.gate, condition: 'SUCCESS' }];
    }
    const def = stepContainer(u, stepDependsOn, stepNumber, watched, common);
    containers.push(def);
    // Secrets mean a mask (a wrapper's, or a masked plugin's), which runs under the agent's busybox.
    if (def.secrets && def.secrets.length > 0) plan.installBusybox = true;
    if (isPlugin(first)) {
      pluginContainers.push(u.container);
      if (def.entryPoint?.[0] !== STATE_BUSYBOX && def.secrets && def.secrets.length > 0) {
        // Only without a registry lookup (see CompileOptions.imageCommands): the planner always does one.
        notes.push(
          `step "${first.name}" has no commands (a plugin) and its image's command line is unknown here: its output would not be masked, ` +
            `so a plugin that prints its settings would show the secrets ${def.secrets.map((s) => s.name).join(', ')} (builds read the image from its registry, or set entrypoint: in the step)`,
        );
      }
      if (u.kind === 'always') {
        notes.push(`step "${first.name}" runs on success and failure but has no commands: it cannot learn the build's status (DRONE_BUILD_STATUS is unset)`);
      }
    }
    const stepPlan: AgentStepPlan = {
      container: u.container,
      steps: u.steps.map((s) => s.name),
      detach: first.detach,
      failure: first.failure,
      dependsOn: stepDependsOn.map((d) => d.containerName!),
      dependsOnConditions: Object.fromEntries(stepDependsOn.map((d) => [d.containerName!, d.condition as ContainerDependencyCondition])),
    };
    if (u.gate) stepPlan.gate = u.gate;
    if (first.detach && first.ready?.command) stepPlan.readyTimeout = first.ready.timeout;
    plan.steps.push(stepPlan);
  }
  containers[0] = agentContainer(plan, options, pipeline, agentImage!);
  if (pipeline.imagePullSecrets.length > 0) {
    const own = new Set([...serviceContainers, ...compiledUnits.map((u) => u.container)]);
    applyPullCredentials(containers.filter((c) => own.has(c.name!)), source.secrets ?? [], common, notes, ctx);
  }
  if (withheld.size > 0) {
    notes.push(`secrets withheld from this build (pull request from a fork): ${[...withheld].sort().join(', ')}`);
  }
  if (absent.size > 0) {
    notes.push(
      `secrets not found, left out (their variables are unset, as Drone leaves them empty): ${[...absent].sort().join(', ')}; ` +
        `ECS would otherwise stop the whole task before any step ran (ResourceInitializationError)`,
    );
  }

  const size = taskSize(pipeline, containers, options, fail, notes);
  const volumes: TaskVolume[] = [
    { name: WORKSPACE_VOLUME },
    { name: STATE_VOLUME },
    { name: AGENT_STATE_VOLUME },
    ...pipeline.volumes.map((v) => ({ name: volumeName(v.name) })),
  ];
  const content: Omit<RegisterTaskDefinitionCommandInput, 'family'> = {
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
  const taskDefinition: RegisterTaskDefinitionCommandInput = { family: familyName(pipeline.name, contentJson), ...content };
  // The request's size: the content plus `"family":"…",`.
  const definitionBytes = Buffer.byteLength(contentJson, 'utf8') + taskDefinition.family!.length + 12;
  if (definitionBytes > MAX_DEFINITION_BYTES) {
    fail(
      pipeline.pos,
      `its task definition is ${definitionBytes} bytes but ECS accepts at most ${MAX_DEFINITION_BYTES}: ` +
        `move long commands into a script in the repository and call it, or split the pipeline`,
    );
  }

  const stageId = (options.stageId ?? defaultStageId(ctx))(pipeline, stageNumber);
  if (stageId.length === 0 || stageId.length > MAX_CLIENT_TOKEN) {
    fail(pipeline.pos, `the stage id ${JSON.stringify(stageId)} cannot be a RunTask clientToken (1 to ${MAX_CLIENT_TOKEN} characters)`);
  }
  const overridesFor = (runCtx: BuildContext): { containerOverrides: ContainerOverride[] } => {
    // The same for every plugin step of the stage: computed once, copied per override.
    const pluginRunEnv = pluginContainers.length > 0 ? keyValues(pluginRunEnvironment(buildEnvironment(runCtx, stageEnv(pipeline, stageNumber)))) : [];
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
      ],
    };
  };
  // Long free text (commit message, PR title, author) is cut to fit, the same for the
  // agent and the plugins (override-budget.ts).
  const fitted = fitFreeText(ctx, (c) => jsonChars(overridesFor(c)), MAX_OVERRIDE_CHARS);
  const overrides = overridesFor(fitted.ctx);
  if (fitted.truncated.length > 0) {
    notes.push(
      `${fitted.truncated.map((t) => `the ${t.field} (${t.from} characters)`).join(', ')} ${fitted.truncated.length > 1 ? 'were' : 'was'} cut to ` +
        `${Math.max(...fitted.truncated.map((t) => t.to))} characters in what the steps receive: RunTask overrides hold at most ${MAX_OVERRIDE_CHARS} characters`,
    );
  }
  const overrideChars = jsonChars(overrides);
  if (overrideChars > MAX_OVERRIDE_CHARS) {
    const parts = overrides.containerOverrides.map((o) => `${o.name} ${jsonChars(o)}`).join(', ');
    fail(
      pipeline.pos,
      `its per-run overrides are ${overrideChars} characters but RunTask accepts at most ${MAX_OVERRIDE_CHARS} (${parts}), and cutting the commit message short cannot make them fit: ` +
        `each step without commands (a plugin) receives the build's DRONE_* variables this way — use fewer plugin steps in one pipeline`,
    );
  }

  const runTask: Partial<RunTaskCommandInput> = {
    ...(options.cluster ? { cluster: options.cluster } : {}),
    taskDefinition: taskDefinition.family,
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

  return { name: pipeline.name, dependsOn: [...pipeline.dependsOn], taskDefinition, runTask, skippedSteps, plan, notes };
}

interface Common {
  pipeline: Pipeline;
  options: CompileOptions;
  withSecrets: boolean;
  withheld: Set<string>;
  /** Secrets left out because the planner found they do not exist (`from_secret` names). */
  absent: Set<string>;
  /** The agent image for the pipeline's architecture (the agent and the gates run it). */
  agentImage: string;
  secretRef: (secret: string) => string;
  hosts: string[];
  fail: (pos: Position, message: string) => never;
  /** The structural DRONE_* variables of a plugin step (stage, workspace, system). */
  pluginEnv: Record<string, string>;
}

/**
 * The awslogs options of a container. On Fargate the log driver is the shim logger
 * (aws/shim-loggers-for-containerd, which wraps Docker's awslogs driver).
 *
 * Steps, services and gates: `non-blocking`, so that a CloudWatch Logs slowdown never
 * stalls a build's output; lines are dropped only when the in-memory ring buffer is full.
 * Its default is 1 MiB in the shim logger (10 MiB in ECS's documentation since June 2025):
 * 25 MiB is what AWS measured as losing no lines up to about 5 MB/s in-Region
 * (https://aws.amazon.com/blogs/containers/preventing-log-loss-with-non-blocking-mode-in-the-awslogs-container-log-driver/).
 * The buffer is memory, used only while delivery lags.
 *
 * The agent: `blocking`. Its `SLIPWAY_RESULT` line is what the task-events handler reads
 * back to tell users why a stage ended (lambdas/task-events/agent-result.ts); in
 * non-blocking mode a full buffer could drop it. The cost of blocking mode: a write blocks
 * only once the driver holds 4096 undelivered events (Docker's awslogs driver,
 * daemon/logger/awslogs/cloudwatchlogs.go, defaultMaxBufferedEvents), and the agent writes
 * a few lines per step, so only a long CloudWatch Logs outage would stall it — then the
 * agent's own output waits, not the steps (each has its own log stream); the pipeline
 * timeout and StopTask still end the task.
 */
export const STEP_LOG_BUFFER = '25m';

function logConfiguration(options: CompileOptions, agent = false): ContainerDefinition['logConfiguration'] {
  return {
    logDriver: 'awslogs',
    options: {
      'awslogs-group': options.logGroup,
      'awslogs-region': options.region,
      'awslogs-stream-prefix': LOG_STREAM_PREFIX,
      ...(agent ? { mode: 'blocking' } : { mode: 'non-blocking', 'max-buffer-size': STEP_LOG_BUFFER }),
    },
  };
}

/** The agent alone may write AGENT_STATE_DIR (contract.ts): every other container reads it only. */
function baseMounts(pipeline: Pipeline, agent = false): MountPoint[] {
  return [
    { sourceVolume: WORKSPACE_VOLUME, containerPath: pipeline.workspace.path, readOnly: false },
    { sourceVolume: STATE_VOLUME, containerPath: STATE_DIR, readOnly: false },
    { sourceVolume: AGENT_STATE_VOLUME, containerPath: AGENT_STATE_DIR, readOnly: !agent },
  ];
}

function stepMounts(steps: Step[], c: Common): MountPoint[] {
  const seen = new Set<string>();
  const out: MountPoint[] = [];
  for (const step of steps) {
    for (const v of step.volumes) {
      const declared = c.pipeline.volumes.find((p) => p.name === v.name);
      if (!declared) c.fail(step.pos, `step "${step.name}" mounts volume "${v.name}", which the pipeline's volumes: does not declare`);
      const key = `${v.name}:${v.path}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ sourceVolume: volumeName(v.name), containerPath: v.path, readOnly: false });
    }
  }
  return out;
}

function volumeName(name: string): string {
  const safe = ecsSafeName(name, 'volume');
  // The two task volumes of the contract keep their names.
  return safe === WORKSPACE_VOLUME || safe === STATE_VOLUME || safe === AGENT_STATE_VOLUME ? `user-${safe}` : safe;
}

function keyValues(env: Record<string, string>): KeyValuePair[] {
  return Object.keys(env)
    .sort()
    .map((name) => ({ name, value: env[name]! }));
}

/** Literal variables and secret references of a step: the pipeline's, then the step's, then plugin settings. */
function environmentOf(step: Step, c: Common): { literal: Record<string, string>; secrets: Record<string, string> } {
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

/** `secrets` of a container: references only, the values never pass through Slipway. */
function secretsOf(secrets: Record<string, string>, c: Common): { secrets?: Secret[] } {
  const names = Object.keys(secrets).sort();
  if (names.length === 0) return {};
  if (!c.withSecrets) {
    for (const name of names) c.withheld.add(secrets[name]!);
    return {};
  }
  const out: Secret[] = [];
  for (const name of names) {
    const valueFrom = c.secretRef(secrets[name]!);
    if (c.options.absentSecrets?.has(valueFrom)) c.absent.add(secrets[name]!);
    else out.push({ name, valueFrom });
  }
  return out.length > 0 ? { secrets: out } : {};
}

function resources(step: Step): Pick<ContainerDefinition, 'cpu' | 'memoryReservation'> {
  return {
    ...(step.resources?.cpu ? { cpu: step.resources.cpu } : {}),
    ...(step.resources?.memory ? { memoryReservation: step.resources.memory } : {}),
  };
}

/** The agent image for `arch`; undefined when the deployment has none for it. */
export function agentImageFor(options: Pick<CompileOptions, 'agentImage' | 'agentImages'>, arch: Arch): string | undefined {
  if (options.agentImages) return options.agentImages[arch];
  return options.agentImage ?? DEFAULT_AGENT_IMAGE;
}

function agentContainer(plan: AgentPlan, options: CompileOptions, pipeline: Pipeline, image: string): ContainerDefinition {
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
    mountPoints: baseMounts(pipeline, true),
    logConfiguration: logConfiguration(options, true),
  };
}

/**
 * The agent writes the machine and username into a netrc, whose tokens cannot hold
 * whitespace or quotes. A deployment's setting, not the pipeline's: a plain Error.
 */
function checkCloneCredentials(clone: CloneCredentials): void {
  for (const [field, value] of [['machine', clone.machine], ['username', clone.username], ['passwordFrom', clone.passwordFrom]] as const) {
    if (value === '' || /[\s"']/.test(value)) {
      throw new Error(`${COMPILE_PREFIX}cloneCredentials.${field} ${JSON.stringify(value)} must be non-empty, without whitespace or quotes`);
    }
  }
}

function serviceContainer(service: Step, container: string, c: Common): ContainerDefinition {
  const env = environmentOf(service, c);
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
    mountPoints: [...baseMounts(c.pipeline), ...stepMounts([service], c)],
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
  c: Common,
  gate: { watch: string[] } | undefined,
  waitFor: string[] | undefined,
  exports: Record<string, string>[] = [],
  ownEnv: string[] = [],
  maskPlugin = true,
): Pick<ContainerDefinition, 'entryPoint' | 'command' | 'image'> {
  const first = steps[0]!;
  if (first.commands.length === 0) {
    // Services are never wrapped: they start with the task, before the agent has installed
    // the busybox a wrapper runs under (the stage notes say their output is not masked).
    const secretEnv = c.withSecrets && maskPlugin ? Object.keys(env.secrets).sort() : [];
    const argv = secretEnv.length > 0 ? pluginArgv(first, c.pipeline.platform.arch, c.options.imageCommands) : { kind: 'unknown' as const };
    if (argv.kind === 'error') {
      return c.fail(
        first.pos,
        `step "${first.name}" receives secrets (${secretEnv.join(', ')}), so its output is masked, which needs the command line its image runs: ${argv.message}. ` +
          `Set the step's entrypoint to the program its image runs (entrypoint: [/path/to/program], plus command: for its arguments) and the registry is not asked`,
      );
    }
    if (argv.kind === 'known') {
      const script = pluginScript({ container, name: first.name, hosts: c.hosts.filter((h) => h !== first.name), secretEnv });
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
    secretEnv: c.withSecrets ? Object.keys(env.secrets).sort() : [],
    ownEnv: [...new Set([...ownEnv, ...(c.withSecrets ? Object.keys(env.secrets) : [])])].sort(),
    ...(gate ? { gate } : {}),
    ...(waitFor && waitFor.length > 0 ? { waitFor } : {}),
  });
  return { entryPoint: [first.shell ?? SHELL, '-c'], command: [script] };
}

function stepContainer(u: Unit, dependsOn: ContainerDependency[], stepNumber: (s: Step) => number, watched: string[], c: Common): ContainerDefinition {
  const first = u.steps[0]!;
  const envs = u.steps.map((s) => environmentOf(s, c));
  const literals = u.steps.map((s, i) => ({
    ...(isPlugin(s) ? { ...c.pluginEnv, ...statusEnv(u.kind) } : {}),
    ...envs[i]!.literal,
    ...stepEnvironment({ name: s.name, number: stepNumber(s) }),
  }));
  const { common, own } = u.steps.length > 1 ? splitEnvironment(literals) : { common: literals[0]!, own: [] };
  const gate = u.kind === 'failure-only' && !isPlugin(first) ? { watch: watched.filter((w) => w !== u.container) } : undefined;
  const def: ContainerDefinition = {
    name: u.container,
    image: first.image,
    essential: false,
    ...commandOf(u.steps, u.container, envs[0]!, c, gate, u.waitFor, own, Object.keys(common).filter((name) => envs.some((e) => name in e.literal))),
    workingDirectory: first.workingDir ?? c.pipeline.workspace.path,
    ...(first.user ? { user: first.user } : {}),
    environment: keyValues(common),
    ...secretsOf(envs[0]!.secrets, c),
    mountPoints: [...baseMounts(c.pipeline), ...stepMounts(u.steps, c)],
    dependsOn,
    ...resources(first),
    logConfiguration: logConfiguration(c.options),
  };
  // No startTimeout here either (see serviceContainer): a step after a detached one may wait
  // for other steps far longer. The agent enforces the detached step's `ready.timeout`.
  if (first.detach && first.ready?.command) def.healthCheck = healthCheck(first);
  return def;
}

/**
 * `image_pull_secrets` as ECS `repositoryCredentials` on the containers of each secret's
 * registry (pull-credentials.ts). Withheld from forks like every secret; left out, with a
 * note, when the planner found the secret missing.
 */
function applyPullCredentials(containers: ContainerDefinition[], documents: SecretDocument[], c: Common, notes: string[], ctx: BuildContext): void {
  const pathOf = c.options.secretPath ?? ((slug: string, name: string) => defaultSecretPath(slug, name, c.options.secretsPrefix));
  const plan = planPullCredentials(c.pipeline.imagePullSecrets, documents, containers.map((d) => d.image!), pathOf(ctx.repo.slug, ''));
  if (!plan.ok) return c.fail(plan.document?.pos ?? c.pipeline.pos, plan.message);
  if (plan.unused.length > 0) {
    notes.push(`image_pull_secrets ${plan.unused.map((u) => `"${u}"`).join(', ')} match no image of this pipeline outside ECR (ECR images are pulled with the task execution role)`);
  }
  for (const [host, { secret }] of plan.byHost) {
    const users = containers.filter((d) => registryHost(d.image!) === host);
    if (!c.withSecrets) {
      c.withheld.add(secret);
      continue;
    }
    const arn = c.secretRef(secret);
    if (c.options.absentSecrets?.has(arn)) {
      notes.push(`image_pull_secrets "${secret}" does not exist: ${users.map((d) => d.name).join(', ')} pull ${host} anonymously`);
      continue;
    }
    for (const d of users) d.repositoryCredentials = { credentialsParameter: arn };
  }
}

/** What a plugin step can know of the build's status when it starts: only its gate tells. */
function statusEnv(kind: StepKind): Record<string, string> {
  if (kind === 'always') return {};
  const status = kind === 'plain' ? 'success' : 'failure';
  return { DRONE_BUILD_STATUS: status, DRONE_STAGE_STATUS: status };
}

function gateContainer(name: string, script: string, dependsOn: ContainerDependency[], c: Common): ContainerDefinition {
  return {
    name,
    image: c.agentImage,
    essential: false,
    entryPoint: [SHELL, '-c'],
    command: [script],
    mountPoints: [{ sourceVolume: STATE_VOLUME, containerPath: STATE_DIR, readOnly: false }],
    dependsOn,
    logConfiguration: logConfiguration(c.options),
  };
}

/**
 * The task's size: what the pipeline's `resources` ask for (else the defaults), raised to
 * hold what its containers reserve — ECS rejects a task whose containers' cpu (or memory
 * reservations) add up to more than the task's — then to the nearest valid Fargate pair.
 */
function taskSize(pipeline: Pipeline, containers: ContainerDefinition[], options: CompileOptions, fail: Common['fail'], notes: string[]): { cpu: string; memory: string } {
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
function ephemeralStorage(pipeline: Pipeline, fail: Common['fail']): number {
  const gib = pipeline.resources!.storage!;
  const { min, max } = EPHEMERAL_STORAGE;
  if (gib < min || gib > max) return fail(pipeline.pos, `resources.storage is ${gib} GiB but ECS accepts ${min} to ${max} GiB of ephemeral storage per task`);
  return gib;
}

/**
 * Where a secret's value lives. A `kind: secret` document with `get: { path, name }` names
 * a Secrets Manager secret (and a JSON key in it); any other name is a repository secret
 * in SSM Parameter Store under `/slipway/OWNER/NAME/SECRET`. Either way the secret must be
 * the repository's own: the task execution role can read every repository's secrets, so
 * without this check one repository's pipeline could name another's (`/slipway/victim/…`).
 */
function secretArn(
  secret: string,
  ctx: BuildContext,
  options: CompileOptions,
  documents: SecretDocument[],
  fail: (m: string, pos?: Position) => never,
): string {
  const pathOf = options.secretPath ?? ((slug: string, name: string) => defaultSecretPath(slug, name, options.secretsPrefix));
  const own = pathOf(ctx.repo.slug, '');
  const doc = documents.find((d) => d.name === secret);
  if (doc?.get) {
    const { path, name: key } = doc.get;
    // One segment under the prefix: `/slipway/org/repo/sub/x` is repository org/repo/sub's
    // secret x (GitLab subgroups nest), never org/repo's.
    if (!path.startsWith(own) || !SECRET_NAME.test(path.slice(own.length))) {
      fail(
        `secret "${secret}" reads ${JSON.stringify(path)}, which is not one of this repository's secrets: ` +
          `a secret document may only name a secret directly under ${own} (the repository's own prefix, one more segment: ` +
          'letters, digits, "_", "." and "-"; a deeper path belongs to a nested repository)',
        doc.pos,
      );
    }
    return secretsManagerRef(path, key, options);
  }
  if (!SECRET_NAME.test(secret)) {
    fail(`from_secret "${secret}" is not a valid secret name: use letters, digits, "_", "." and "-", not "." or ".." (it is one segment of the parameter path ${own}NAME)`);
  }
  const path = pathOf(ctx.repo.slug, secret);
  return options.accountId ? `arn:${partitionOf(options)}:ssm:${options.region}:${options.accountId}:parameter${path}` : path;
}

/**
 * A Secrets Manager secret as ECS reads it. It must be an ARN: ECS takes a bare name in
 * `valueFrom` for an SSM parameter ("If the SSM Parameter Store parameter exists in the same
 * Region … you can use either the full ARN or name of the parameter", AWS::ECS::TaskDefinition
 * Secret, https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-ecs-taskdefinition-secret.html).
 * The ARN is partial (no `-XXXXXX` suffix Secrets Manager adds), which Secrets Manager
 * resolves as long as the name does not itself end in a hyphen and six characters
 * (DescribeSecret / GetSecretValue SecretId). A JSON key is `ARN:KEY::` (version stage and id
 * left empty: the current version), https://docs.aws.amazon.com/AmazonECS/latest/developerguide/secrets-envvar-secrets-manager.html.
 * A deployment setting that is missing is a plain Error (not the pipeline's fault).
 */
export function secretsManagerRef(path: string, key: string | undefined, options: Pick<CompileOptions, 'accountId' | 'partition' | 'region'>): string {
  if (!options.accountId) {
    throw new Error(`${COMPILE_PREFIX}the Secrets Manager secret ${path} needs the account id to make its ARN (ECS would read a bare name as an SSM parameter): set CompileOptions.accountId (the planner's ACCOUNT_ID)`);
  }
  const arn = `arn:${partitionOf(options)}:secretsmanager:${options.region}:${options.accountId}:secret:${path}`;
  return key ? `${arn}:${key}::` : arn;
}

function partitionOf(options: Pick<CompileOptions, 'partition'>): string {
  if (!options.partition) throw new Error(`${COMPILE_PREFIX}CompileOptions.partition is not set (the planner's PARTITION: aws, aws-cn or aws-us-gov); it is needed with accountId`);
  return options.partition;
}

export function defaultSecretPath(repoSlug: string, secret: string, prefix = '/slipway'): string {
  return `${prefix.replace(/\/+$/, '')}/${repoSlug}/${secret}`;
}

function defaultStageId(ctx: BuildContext): (pipeline: Pipeline, stageNumber: number) => string {
  return (_pipeline, stageNumber) => `${ctx.repo.slug.replace(/[^A-Za-z0-9_-]/g, '-')}-${ctx.build.number}-${stageNumber}`.slice(-MAX_CLIENT_TOKEN);
}

function stageEnv(pipeline: Pipeline, number: number): StageEnvInput {
  return {
    name: pipeline.name,
    number,
    kind: 'pipeline',
    type: 'docker',
    os: pipeline.platform.os,
    arch: pipeline.platform.arch,
    dependsOn: pipeline.dependsOn,
    workspace: pipeline.workspace.path,
    skipVerify: pipeline.clone.skipVerify,
  };
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
