// A pipeline plus one build's context → what ECS runs: a task definition (the same for
// every run of the pipeline, so its family is a hash of its content) and the per-run
// part of RunTask (overrides, clientToken, tags). Pure: no I/O, no clock, no randomness.
//
// The task: the agent (the one essential container: clones, waits for services, then
// reports healthy through READY_FILE), services (non-essential, start at once), steps
// (non-essential, ordered by dependsOn or, with commands, in their wrapper: see step-order.ts) and gate containers for
// plugin steps with a status condition (they wait for their upstream and decide there). Every container mounts the workspace and the
// state volume.
//
// The work is split by concern: containers.ts and agent-container.ts write the containers,
// container-secrets.ts and secret-refs.ts their secrets, task-definition.ts the task
// definition and its size, run-task.ts the per-run part; this file orders them.

import { agentContainer, agentImageFor, checkCloneCredentials } from './agent-container.js';
import { COMPILE_PREFIX, CompileError, type CompileOptions, type CompileResult, type CompiledStage, type PipelineSource } from './compile-options.js';
import type { CompileScope, Unit } from './compile-scope.js';
import { conditionInput, conditionsMatch, skipReason, type ConditionInput } from './conditions.js';
import { NameAllocator } from './container-names.js';
import { applyPullCredentials } from './container-secrets.js';
import { gateContainer, serviceContainer, stepContainer } from './containers.js';
import { chooseCapacity, ec2Refusal, ec2Needs, runsPrivileged } from './capacity.js';
import { ec2RunTask, ec2TaskDefinition } from './ec2-task.js';
import { autoTagEnvironment, DEFAULT_IMAGE_BUILDER, imageBuildKind, imageBuildStep } from './image-build.js';
import type { BuildContext } from './context.js';
import {
  AGENT_CONTAINER,
  AGENT_STATE_VOLUME,
  SERVICES_READY_PORT,
  DEFAULT_CLONE_DEPTH,
  STATE_BUSYBOX,
  STATE_VOLUME,
  WORKSPACE_VOLUME,
  type AgentPlan,
  type AgentStepPlan,
} from './contract.js';
import type { ContainerDefinition, ContainerDependency } from './ecs-task.js';
import { buildEnvironment, type StageEnvInput } from './environment.js';
import { MAX_CONTAINERS, MAX_DEFINITION_BYTES } from './limits.js';
import { LINT, isEc2Rule } from './lint.js';
import { fitContainers, isPlugin, tooManyContainersMessage } from './pack.js';
import { pluginStructuralEnvironment } from './plugin-run-env.js';
import { runTaskInput } from './run-task.js';
import { compileSplit, type SegmentSource, type ServiceTaskSource } from './compile-segments.js';
import { forkPullRefusal } from './fork-pulls.js';
import { applyPullThroughCache, refusedCacheImage } from './pull-through-cache.js';
import { planSegments } from './segments.js';
import { pipelineGraph, skippedDependencyNote } from './pipeline-graph.js';
import { earlierFailureGateScript } from './segment-script.js';
import { gateContainerScript, upMarkerLines, type UpstreamEdge } from './script.js';
import { REFUSED_SECRET_NOTE, secretArn } from './secret-refs.js';
import { stepDependencies, stepKind, type OrderedStep } from './step-order.js';
import { taskDefinitionInput } from './task-definition.js';
import type { Conditions, Diagnostic, Manifest, Pipeline, Position, Step } from './types.js';

export { agentImageFor } from './agent-container.js';
export { COMPILE_PREFIX, CompileError, type CloneCredentials, type CompileOptions, type CompileResult, type CompiledStage, type ErroredStage, type PipelineSource } from './compile-options.js';
export { STEP_LOG_BUFFER } from './log-configuration.js';
export { defaultSecretPath, secretsManagerRef } from './secret-refs.js';

/**
 * Every pipeline of a manifest whose trigger matches: compiled, or with its errors when it
 * has any (lint's, or the compiler's); the others skipped with the reason. One pipeline's
 * errors never stop the others. An errored pipeline whose trigger was read without error
 * is left out like any other when the trigger does not match (a tag-only pipeline does
 * not fail every push); with an error in its trigger it is part of every build.
 */
export function compileManifest(manifest: Manifest, ctx: BuildContext, options: CompileOptions): CompileResult {
  const input = conditionInput(ctx);
  const skipped = manifest.skipped.map((s) => ({ name: s.name, reason: s.reason }));
  const lintErrors = new Map(manifest.errors.map((e) => [e.index, e]));
  const chosen: { pipeline: Pipeline; number: number }[] = [];
  const errored: { pipeline: Pipeline; number: number; diagnostics: Diagnostic[] }[] = [];
  const fork = isFork(ctx, options);
  const triggerSkipped = new Map<Pipeline, string>();
  manifest.pipelines.forEach((pipeline, i) => {
    const lint = lintErrors.get(i);
    const reason = lint && !lint.triggerSound ? undefined : mismatchReason(pipeline.trigger, input);
    if (reason !== undefined) {
      skipped.push({ name: pipeline.name, reason: `trigger: ${reason}` });
      triggerSkipped.set(pipeline, `trigger: ${reason}`);
    } else if (lint && !liftedByEc2(pipeline, lint.diagnostics, options, fork)) errored.push({ pipeline, number: i + 1, diagnostics: withEc2Refusal(pipeline, lint.diagnostics, options, fork, manifest.file) });
    else chosen.push({ pipeline, number: i + 1 });
  });
  // Every pipeline that does not run (its trigger, its runner, its platform) is seen through:
  // its dependents wait for what it waited for, as Drone does (pipeline-graph.ts). An errored
  // pipeline is a stage of the build (in error): its dependents wait for it.
  const graph = pipelineGraph([
    ...manifest.pipelines.map((p) => ({ name: p.name, dependsOn: p.dependsOn, ...(triggerSkipped.has(p) ? { skipped: triggerSkipped.get(p)! } : {}) })),
    ...manifest.skipped.map((s) => ({ name: s.name, dependsOn: s.dependsOn, skipped: s.reason })),
  ]);
  const stages: CompiledStage[] = [];
  for (const { pipeline, number } of chosen) {
    try {
      const stage = compilePipeline(pipeline, ctx, options, { file: manifest.file, secrets: manifest.secrets, stageNumber: number });
      const deps = graph.dependenciesOf(pipeline.name);
      stage.dependsOn = deps.dependsOn;
      const note = skippedDependencyNote(deps);
      if (note !== undefined) stage.notes.push(note);
      stages.push(stage);
    } catch (error) {
      if (!(error instanceof CompileError)) throw error;
      errored.push({ pipeline, number, diagnostics: error.diagnostics });
    }
  }
  const errors = errored
    .sort((a, b) => a.number - b.number)
    .map(({ pipeline, number, diagnostics }) => ({ name: pipeline.name, number, dependsOn: graph.dependenciesOf(pipeline.name).dependsOn, diagnostics }));
  return { stages, skipped, errors };
}

/** A pull request from a fork (or a build without secrets, treated alike): never on EC2. */
function isFork(ctx: BuildContext, options: CompileOptions): boolean {
  return (ctx.build.event === 'pull_request' && ctx.pullRequest?.fork === true) || options.withSecrets === false;
}

/** Lint's errors of a pipeline are all what EC2 capacity gives, and this build may have it (capacity.ts). */
function liftedByEc2(pipeline: Pipeline, diagnostics: readonly Diagnostic[], options: CompileOptions, fork: boolean): boolean {
  return diagnostics.every((d) => isEc2Rule(d.message)) && chooseCapacity(pipeline, options.ec2, fork).kind === 'ec2';
}

/**
 * A pipeline stopped only by what EC2 gives gets one more error that says why this build may
 * not run there (no EC2 capacity, a repository not trusted, a fork), so that the fix is named.
 */
function withEc2Refusal(pipeline: Pipeline, diagnostics: Diagnostic[], options: CompileOptions, fork: boolean, file: string): Diagnostic[] {
  if (!options.ec2 || !diagnostics.every((d) => isEc2Rule(d.message)) || ec2Needs(pipeline).length === 0) return diagnostics;
  const refusal = ec2Refusal(pipeline, options.ec2, fork);
  if (refusal === undefined) return diagnostics;
  return [...diagnostics, { file, line: pipeline.pos.line, column: pipeline.pos.column, severity: 'error', message: `${COMPILE_PREFIX}pipeline "${pipeline.name}" needs EC2 capacity, which this build cannot have: ${refusal}` }];
}

/** Why a trigger or a `when:` leaves its pipeline or step out of this build; undefined when it runs. */
function mismatchReason(conditions: Conditions, input: ConditionInput): string | undefined {
  if (conditionsMatch(conditions, input)) return undefined;
  return skipReason(conditions, input) ?? 'does not match this build';
}

/** One pipeline → one stage. The pipeline's trigger is not checked here (compileManifest does). */
export function compilePipeline(
  given: Pipeline,
  ctx: BuildContext,
  options: CompileOptions,
  source: PipelineSource & { segment?: SegmentSource; serviceTask?: ServiceTaskSource } = {},
): CompiledStage {
  const size = { over: false };
  try {
    return compilePipelineOnce(given, ctx, options, source, { startOrder: true, size });
  } catch (error) {
    // A later step's START on the steps before it costs a few hundred bytes of their wrappers
    // (the `.up` marker, the wait for it): a task definition it takes past ECS's 64 KiB is
    // compiled without them, its later steps' images pulled with the task.
    if (!size.over) throw error;
    return compilePipelineOnce(given, ctx, options, source, { startOrder: false, size: { over: false } });
  }
}

function compilePipelineOnce(
  given: Pipeline,
  ctx: BuildContext,
  options: CompileOptions,
  source: PipelineSource & { segment?: SegmentSource; serviceTask?: ServiceTaskSource },
  pulls: { startOrder: boolean; size: { over: boolean } },
): CompiledStage {
  const file = source.file ?? '.drone.yml';
  let pipeline = given;
  const fail = (pos: Position, message: string): never => {
    throw new CompileError([{ file, line: pos.line, column: pos.column, severity: 'error', message: `${COMPILE_PREFIX}pipeline "${pipeline.name}": ${message}` }]);
  };
  const input = conditionInput(ctx);
  const stageNumber = source.stageNumber ?? 1;
  const withSecrets = options.withSecrets ?? !(ctx.build.event === 'pull_request' && ctx.pullRequest?.fork === true);
  const notes: string[] = [];

  // The builder's image runs the build of an image build plugin only: where its launch carries
  // push rights (local mode's image builder), a step of that image with commands of its own
  // would hold them too.
  const builderImage = options.imageBuilds?.builderImage ?? DEFAULT_IMAGE_BUILDER;
  for (const s of [...pipeline.services, ...pipeline.steps]) {
    if (s.image === builderImage) {
      fail(s.pos, `"${s.name}": image ${builderImage.split('@')[0]} is Slipway's image builder, which runs only the builds of image build steps: use plugins/docker (or plugins/ecr, …) with settings, or another image`);
    }
  }

  // A fork's pull request may not name a cache repository that ECR fills with the deployment's
  // registry token (PullThroughCache.refused): its author would choose what that token fetches.
  // Its task's execution role is refused those repositories too (lib/build-cluster.ts); this
  // says why, before anything runs, and what to write instead.
  const cache = options.pullThroughCache;
  if (cache?.refused && isFork(ctx, options)) {
    for (const s of [...pipeline.services, ...pipeline.steps]) {
      const refused = refusedCacheImage(s.image, cache);
      if (!refused) continue;
      fail(
        s.pos,
        `"${s.name}": image ${s.image} is this deployment's pull-through cache of ${refused.domain}, which fetches with the deployment's registry credentials; ` +
          `a pull request from a fork may not use it: write the upstream reference ${refused.upstream} instead, which is pulled anonymously`,
      );
    }
  }
  // Nor any other private image of the deployment's registry: Drone gives a fork's pull request
  // no pull secrets, and its execution role may pull only what options.forkPulls lists; in the
  // repositories of the agent and the builder, which that role pulls whole, their images alone.
  const forkPulls = options.forkPulls;
  if (forkPulls && isFork(ctx, options)) {
    for (const s of [...pipeline.services, ...pipeline.steps]) {
      const refusal = forkPullRefusal(s.image, forkPulls);
      if (!refusal) continue;
      if (refusal.kind === 'beside-own-image') {
        fail(
          s.pos,
          `"${s.name}": image ${s.image} is in ${refusal.repository}, the repository of the agent or image builder this deployment runs, ` +
            "where a pull request from a fork may name only the deployment's own image (the repository may hold other private images, " +
            "CDK's asset repository every container image of the account's CDK apps): use a public image",
        );
      }
      fail(
        s.pos,
        `"${s.name}": image ${s.image} is in this deployment's private ECR registry; a pull request from a fork may not pull the deployment's private images ` +
          '(as Drone gives forks no pull secrets): use a public image, or ask the operator to list its repository in the stack setting forkPullRepositories',
      );
    }
  }

  // Image build plugins become builder steps (image-build.ts) before anything else looks at them.
  const builds = new Map<string, Step>();
  if (pipeline.steps.some((s) => imageBuildKind(s))) {
    const input = { pipeline, options: options.imageBuilds, region: options.region, notes, fail };
    pipeline = {
      ...pipeline,
      steps: pipeline.steps.map((s) => {
        const kind = imageBuildKind(s);
        if (!kind) return s;
        const step = imageBuildStep(s, kind, input);
        builds.set(step.name, s);
        return step;
      }),
    };
  }

  // The service task of a split pipeline (compile-segments.ts): its services and detached steps only.
  const serviceTask = source.serviceTask;
  if (serviceTask) {
    const mine = new Set(serviceTask.detached);
    pipeline = { ...pipeline, steps: pipeline.steps.filter((s) => mine.has(s.name)).map((s) => ({ ...s, dependsOn: s.dependsOn.filter((d) => mine.has(d)) })) };
  }

  if (options.cloneCredentials) checkCloneCredentials(options.cloneCredentials);
  // Fargate, or the deployment's EC2 capacity when the pipeline needs or asks for it and may have it.
  const capacity = chooseCapacity(pipeline, options.ec2, isFork(ctx, options));
  if (capacity.kind === 'fargate' && capacity.note && ec2Needs(pipeline).length === 0) notes.push(capacity.note);
  for (const s of [...pipeline.services, ...pipeline.steps]) {
    if (s.privileged && capacity.kind !== 'ec2') fail(s.pos, `"${s.name}" asks for privileged mode, which Fargate cannot give: build images with a daemonless tool (kaniko) instead`);
  }

  // Services that run: Drone leaves out a service whose `when:` does not match this build
  // (drone-runner-docker engine/compiler/compiler.go: RunPolicy = RunNever), and its runner
  // neither starts nor lists it, so it takes no DRONE_STEP_NUMBER (runner-go
  // pipeline/runtime/runner.go). One that runs only on failure cannot run here: services
  // start with the task, before anything has failed.
  const services: Step[] = [];
  for (const service of pipeline.services) {
    const reason = mismatchReason(service.when, input) ?? (stepKind(service) === 'failure-only' || stepKind(service) === undefined ? 'its status condition does not match a service, which starts before any step' : undefined);
    if (reason === undefined) services.push(service);
    else notes.push(`service "${service.name}" left out: when: ${reason}`);
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
  // One segment of a split pipeline (compile-segments.ts): its containers were chosen by the cut.
  const segment = source.segment;
  const fit = segment
    ? { before: 0, after: 0, units: segment.units, gates: 0 }
    : fitContainers(services.length, [...active.values()].map((o) => ({ steps: [o.step], kind: o.kind })), linear);
  // EC2 capacity runs a pipeline as one task (its snapshot path is Fargate's).
  if (!segment && !serviceTask && fit.after > MAX_CONTAINERS && options.splitPipelines && capacity.kind !== 'ec2') {
    // Each segment compiles the pipeline as given (its image builds rewritten again, the same way).
    const split = compileSplit(pipeline, ctx, options, source, active, (_p, c, o, src) => compilePipeline(given, c, o, src));
    if (split.kind === 'split') return split.stage;
    fail(pipeline.stepsPos ?? pipeline.pos, `${LINT.tooManyContainers}: ${tooManyContainersMessage(fit, services.length, active.size, linear)}; it cannot be split into several tasks either: ${split.reason}`);
  }
  const units = fit.units;
  // At the `steps:` key, where lint reports the same rule (lint.ts, lintContainers), so that
  // the finding has one place whichever of the two makes it.
  if (fit.after > MAX_CONTAINERS) {
    const cut = planSegments(pipeline.services, pipeline.steps, active);
    const splittable = cut.kind === 'split';
    fail(
      pipeline.stepsPos ?? pipeline.pos,
      `${LINT.tooManyContainers}: ${tooManyContainersMessage(fit, services.length, active.size, linear)}` +
        (splittable ? '; it could run as consecutive tasks, but this deployment has no snapshot bucket for their workspace' : ''),
    );
  }
  if (fit.before > MAX_CONTAINERS) {
    for (const u of units) {
      if (u.steps.length > 1) notes.push(`steps ${u.steps.map((s) => JSON.stringify(s.name)).join(', ')} share one container (ECS allows ${MAX_CONTAINERS} containers per task)`);
    }
  }

  const names = new NameAllocator([AGENT_CONTAINER, WORKSPACE_VOLUME, STATE_VOLUME, AGENT_STATE_VOLUME, ...(segment?.reserved ?? serviceTask?.reserved ?? [])]);
  // A segment whose services run in the service task: no containers of theirs here.
  const remoteServices = segment?.remoteServices === true;
  if (remoteServices || serviceTask) {
    for (const s of services) {
      if (s.ready?.ports.includes(SERVICES_READY_PORT)) {
        fail(s.pos, `service "${s.name}" listens on port ${SERVICES_READY_PORT}, which the agent of a pipeline split into several tasks answers on (whether the services are ready): use another port`);
      }
    }
  }
  const serviceContainers = services.map((s) => names.allocate(s.name, 'service'));
  const compiledUnits: Unit[] = units.map((u) => ({ ...u, container: segment ? segment.containerOf.get(u.steps[0]!.name)! : names.allocate(u.steps[0]!.name, 'step') }));
  for (const u of compiledUnits) {
    if (isPlugin(u.steps[0]!) && (u.kind !== 'plain' || (segment?.earlierWatched.length ?? 0) > 0)) u.gate = names.allocate(`${u.container}-gate`, 'gate');
  }
  const containerOf = new Map<string, string>(segment?.containerOf ?? []);
  for (const u of compiledUnits) for (const s of u.steps) containerOf.set(s.name, u.container);
  // Containers of this task: a dependency on a step of an earlier segment is over before it starts.
  const here = new Set(compiledUnits.map((u) => u.container));
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
  services.forEach((s, i) => {
    if (s.ready?.command && !remoteServices) rootDeps.push({ containerName: serviceContainers[i]!, condition: 'HEALTHY' });
  });
  const stepDeps = (deps: Map<string, ContainerDependency['condition']>): ContainerDependency[] => [...deps].map(([containerName, condition]) => ({ containerName, condition }));
  // A plain step with commands waits for its upstream in its wrapper (below), except behind a
  // detached step with a readiness command (ECS's HEALTHY: the health check's start period and
  // the agent's ready.timeout are timed from that container's start) and a detached plugin
  // (START: it has no wrapper to mark its start). So does a detached step with a readiness
  // command itself: it keeps ECS's order, so that its health check, timed from its container's
  // start, begins when its commands do.
  const waitsInWrapper = (u: Unit): boolean => u.kind === 'plain' && !isPlugin(u.steps[0]!) && !(u.steps[0]!.detach && u.steps[0]!.ready?.command);
  const unitByContainer = new Map(compiledUnits.map((u) => [u.container, u] as const));
  /**
   * What a unit waits for: `ecs`, the task definition's dependsOn; `plan`, the conditions the
   * agent decides with (AgentStepPlan.dependsOnConditions: the same edges ECS would hold, so its
   * verdicts are as before); `upstream`, what its wrapper waits for instead of ECS.
   */
  const unitDeps = (u: Unit): { ecs: ContainerDependency[]; plan: ContainerDependency[]; upstream: UpstreamEdge[] } => {
    const deps = new Map<string, ContainerDependency['condition']>();
    const upstream: UpstreamEdge[] = [];
    const ecs = new Map<string, ContainerDependency['condition']>();
    let root = false;
    for (const s of u.steps) {
      const d = order.get(s.name)!;
      root ||= d.root || (d.on.length > 0 && d.on.every((on) => !here.has(containerOf.get(on.step)!)));
      for (const on of d.on) {
        const target = containerOf.get(on.step)!;
        if (!here.has(target) || target === u.container) continue;
        const c = on.condition === 'COMPLETE' ? (gateOf.get(target) ?? target) : target;
        if (!deps.has(c)) deps.set(c, on.condition);
        const up = unitByContainer.get(target)!;
        const wrapped = !isPlugin(up.steps[0]!);
        if (on.condition === 'HEALTHY' || (on.condition === 'START' && !wrapped)) {
          if (!ecs.has(c)) ecs.set(c, on.condition);
        } else if (!upstream.some((e) => e.container === target)) {
          upstream.push({ container: target, condition: on.condition, kind: wrapped ? 'wrapped' : gateOf.has(target) ? 'gated' : 'plugin' });
        }
      }
    }
    const plan = stepDeps(deps);
    // A step that runs on a status starts with the agent and waits for its setup record in its
    // wrapper (script.ts): HEALTHY would never come after a failed clone. START may name the
    // essential agent (only COMPLETE and SUCCESS may not), and HEALTHY "is confirmed only at
    // task startup" (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContainerDependency.html).
    if (u.kind !== 'plain') {
      const withRoot = [...(root ? [{ containerName: AGENT_CONTAINER, condition: 'START' as const }] : []), ...plan];
      return { ecs: withRoot, plan: withRoot, upstream: [] };
    }
    // A plain step with commands starts with the task and waits in its wrapper (script.ts) for
    // the agent's setup record and for the steps it comes after, so ECS pulls its image at once,
    // beside the agent's and the services': ECS pulls a container's image only once its
    // dependsOn conditions hold (aws/amazon-ecs-agent agent/engine/dependencygraph/graph.go,
    // containerOrderingDependenciesIsResolved: only with DependentContainersPullUpfront, the
    // agent setting ECS_PULL_DEPENDENT_CONTAINERS_UPFRONT, false by default in agent/config, is a
    // container not yet pulled let through), so a dependency put the step's pull after the clone,
    // the services and every step before it. The agent's gate still judges the services (ports,
    // and health from the task metadata endpoint) before it writes the record.
    if (waitsInWrapper(u)) return { ecs: stepDeps(ecs), plan, upstream };
    // A plugin step has no wrapper (its launcher runs under the agent's busybox, installed only
    // after the clone): it keeps ECS's order and the agent's HEALTHY, and so does every later
    // plugin step, since a wrapped step that skipped itself after a failed setup still meets
    // ECS's COMPLETE (it exited), so a plugin after a `failure: ignore` step would start.
    if (!isPlugin(u.steps[0]!)) return { ecs: plan, plan, upstream: [] };
    if (root) return { ecs: [...rootDeps, ...plan], plan: [...rootDeps, ...plan], upstream: [] };
    const healthy = [{ containerName: AGENT_CONTAINER, condition: 'HEALTHY' as const }, ...plan];
    return { ecs: healthy, plan: healthy, upstream: [] };
  };
  // A later step's image pulls once the steps before it have started, not against the first
  // wave's pulls: an ECS START on each of its upstream containers that start with the task.
  // ECS pulls a container's image only once its dependsOn conditions hold
  // (aws/amazon-ecs-agent agent/engine/dependencygraph/graph.go, containerOrderingDependenciesIsResolved;
  // DependentContainersPullUpfront, ECS_PULL_DEPENDENT_CONTAINERS_UPFRONT, is false by default),
  // so its pull overlaps the clone, the services' start and the first step's run. START
  // "validates that a dependent container is started"
  // (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContainerDependency.html).
  // Since aws/amazon-ecs-agent commit 51e94bfbe an upstream that has since stopped still counts;
  // before it, START is met only while the upstream runs, so each upstream named here stays up
  // until its dependents have started (startDependents, below). Either way a failed upstream
  // never holds a dependent back: its wrapper decides from the records.
  // Only containers that start with the task are named: a wrapped step whose own dependsOn is
  // empty, or holds only such STARTs. Their STARTs follow the pipeline's edges (acyclic), so each
  // starts once the ones before it have, and none waits on a record, a health or an exit: no
  // deadlock. A step kept in ECS's order (a plugin, a status step, a detached step with a
  // readiness command) is never named: ECS may never start it, and the step after it waits for
  // it in its wrapper as before. The one START that can then fail is an upstream whose image
  // could not be pulled or started. Then ECS stops the later step unstarted (exit 143: graph.go's
  // terminal error for a dependency that "has not and will not start", on every agent, as the
  // local stand-in does), and it is recorded skipped, as its plan's edge says
  // (test/control-plane/e2e-all-pull.test.ts).
  // Nor is a step whose exit ECS waits for (a plugin's, a gate's or a step kept in ECS's order's
  // SUCCESS or COMPLETE on it): named, it would stay up for its dependents (startDependents,
  // below), so that container would start only once their images had pulled, and one of them
  // held by it (HEALTHY on a detached step that starts on its SUCCESS) would never start.
  // Each unit's waits, once (the START edges below are added on top of them).
  const baseDeps = new Map(compiledUnits.map((u) => [u.container, unitDeps(u)] as const));
  const exitAwaited = new Set(compiledUnits.flatMap((u) => baseDeps.get(u.container)!.ecs.filter((d) => d.condition === 'SUCCESS' || d.condition === 'COMPLETE').map((d) => d.containerName!)));
  const startsWithTask = new Set(compiledUnits.filter((u) => waitsInWrapper(u) && baseDeps.get(u.container)!.ecs.length === 0 && !exitAwaited.has(u.container)).map((u) => u.container));
  const withUpstreamStarts = (u: Unit, deps: ReturnType<typeof unitDeps>): ReturnType<typeof unitDeps> => {
    if (!waitsInWrapper(u) || !pulls.startOrder) return deps;
    const starts = deps.upstream.filter((e) => e.kind === 'wrapped' && startsWithTask.has(e.container) && !deps.ecs.some((d) => d.containerName === e.container));
    return { ...deps, ecs: [...deps.ecs, ...starts.map((e) => ({ containerName: e.container, condition: 'START' as const }))] };
  };
  // Failing = a step whose failure counts (not ignored, not a background step) exited non-zero.
  const watched = [...(segment?.earlierWatched ?? []), ...compiledUnits.filter((u) => !u.steps[0]!.detach && u.steps.every((s) => s.failure !== 'ignore')).map((u) => u.container)];

  const hosts = [...services.map((s) => s.name), ...[...active.values()].filter((o) => o.step.detach).map((o) => o.step.name)];
  const refused = new Map<string, string>();
  const secretRef = (secret: string) => {
    const ref = secretArn(secret, ctx, options, source.secrets ?? [], (m, pos) => fail(pos ?? pipeline.pos, m));
    if (ref.ok) return ref.valueFrom;
    refused.set(secret, ref.message);
    return undefined;
  };
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
  const common: CompileScope = {
    pipeline,
    options,
    withSecrets,
    withheld,
    absent,
    refused,
    agentImage: agentImage!,
    secretRef,
    hosts,
    hostsRemote: remoteServices,
    fail,
    pluginEnv: anyPlugin ? pluginStructuralEnvironment(runEnv) : {},
    records: [...(segment?.earlier ?? []), ...compiledUnits.map((u) => u.container)],
    detached: compiledUnits.filter((u) => u.steps[0]!.detach).map((u) => u.container),
  };

  const containers: ContainerDefinition[] = [];
  const plan: AgentPlan = {
    version: 1,
    pipeline: pipeline.name,
    workspace: pipeline.workspace.path,
    ...(pipeline.workspace.base !== pipeline.workspace.path ? { workspaceBase: pipeline.workspace.base } : {}),
    timeoutMinutes: pipeline.timeout,
    clone: { ...pipeline.clone, depth: pipeline.clone.depth ?? DEFAULT_CLONE_DEPTH },
    services: [],
    steps: [],
    stage: { number: stageNumber, dependsOn: [...pipeline.dependsOn] },
    ...(segment ? { segment: { number: segment.number, count: segment.count } } : {}),
    ...(serviceTask ? { role: 'services' as const } : {}),
    ...(remoteServices && services.length > 0 ? { remoteServices: true } : {}),
  };
  containers.push({} as ContainerDefinition); // the agent, filled in once the plan is complete

  services.forEach((service, i) => {
    const container = serviceContainers[i]!;
    plan.services.push({
      name: service.name,
      container,
      ports: service.ready?.ports ?? [],
      healthCommand: Boolean(service.ready?.command),
      timeout: service.ready?.timeout ?? 60,
    });
    if (remoteServices) return;
    const def = serviceContainer(service, container, common);
    containers.push(def);
    if (service.commands.length === 0 && def.secrets && def.secrets.length > 0) {
      notes.push(
        `service "${service.name}" receives the secrets ${def.secrets.map((s) => s.name).join(', ')} but keeps its image's entrypoint: ` +
          `services start before the agent, so their output is not masked (give it commands: to have it masked)`,
      );
    }
  });

  // Plugin containers that run their image's entrypoint as is (its command line unknown here),
  // so no launcher sources the env file for them: they get the build's DRONE_* variables as a
  // per-run override (plugin-run-env.ts).
  const pluginContainers: string[] = [];
  // Drone's DRONE_STEP_NUMBER: the position among the stage's steps as its runner lists them
  // (drone/runner-go pipeline/runtime/runner.go: clone, then services, then steps, leaving out
  // those whose `when:` does not match; drone-runner-docker engine/compiler/compiler.go).
  const numbered = [...active.values()].map((o) => o.step);
  const stepNumber = segment?.stepNumber ?? serviceTask?.stepNumber ?? ((step: Step) => (pipeline.clone.disable ? 0 : 1) + services.length + numbered.indexOf(step) + 1);
  // Each step container with commands that a container names in an ECS START, and who names
  // it. Before aws/amazon-ecs-agent commit 51e94bfbe (September 2023) the agent meets START only
  // while the upstream is RUNNING (agent/engine/dependencygraph/graph.go,
  // containerOrderingDependenciesIsResolved), at the dependent's pull, create and start: an
  // upstream that exits while a later step's image still pulls would leave that step pending for
  // ever (no terminal error), and the build would hang until its timeout. So such an upstream's
  // wrapper does not exit until each of them is up (script.ts, lingerLines): a step wrapper or a
  // gate writes its `.up` marker first (upMarkerWrite). Its step still ends at its exit record.
  // A plugin without a gate has no shell of ours to write the marker: a START it holds (on a
  // detached step with commands) keeps the old rule's hazard, and names no one here, so that
  // nothing waits for a marker that never comes. The wait costs no step time: no container
  // starts on SUCCESS or COMPLETE of an upstream that waits so (exitAwaited, above).
  const depsOfUnit = new Map(compiledUnits.map((u) => [u.container, withUpstreamStarts(u, baseDeps.get(u.container)!)] as const));
  for (const u of compiledUnits) {
    if (!u.gate && isPlugin(u.steps[0]!)) continue;
    for (const d of depsOfUnit.get(u.container)!.ecs) {
      const up = d.condition === 'START' ? unitByContainer.get(d.containerName!) : undefined;
      if (up === undefined || isPlugin(up.steps[0]!)) continue;
      (up.startDependents ??= []).push(u.container);
      u.upMarker = true;
    }
  }
  for (const u of compiledUnits) {
    const { ecs: dependsOn, plan: planDependsOn, upstream } = depsOfUnit.get(u.container)!;
    if (upstream.length > 0) u.upstream = upstream;
    const first = u.steps[0]!;
    let stepDependsOn = dependsOn;
    let agentDependsOn = planDependsOn;
    if (u.gate) {
      const watch = u.kind === 'failure-only' ? watched.filter((c) => c !== u.container) : undefined;
      const script =
        u.kind === 'plain'
          ? earlierFailureGateScript(segment!.earlierWatched, u.container, first.name, u.upMarker ? upMarkerLines(u.container) : [])
          : gateContainerScript(watch, u.container, first.name, u.waitFor ?? [], common.detached, u.upMarker === true);
      containers.push(gateContainer(u.gate, u.container, script, dependsOn, common));
      stepDependsOn = [{ containerName: u.gate, condition: 'SUCCESS' }];
      agentDependsOn = stepDependsOn;
    }
    const def = stepContainer(u, stepDependsOn, stepNumber, watched, common, u.kind === 'plain' ? segment?.earlierWatched : undefined);
    containers.push(def);
    // Secrets mean a mask (a wrapper's, or a masked plugin's), which runs under the agent's busybox; so does a plugin's launcher.
    const launched = def.entryPoint?.[0] === STATE_BUSYBOX;
    if ((def.secrets && def.secrets.length > 0) || launched) plan.installBusybox = true;
    if (u.steps.some((s) => builds.has(s.name))) plan.imageBuildScript = true;
    if (isPlugin(first) && !launched) {
      pluginContainers.push(u.container);
      if (def.secrets && def.secrets.length > 0) {
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
      dependsOn: agentDependsOn.map((d) => d.containerName!),
      dependsOnConditions: Object.fromEntries(agentDependsOn.map((d) => [d.containerName!, d.condition])),
    };
    if (u.gate) stepPlan.gate = u.gate;
    if (u.kind !== 'plain') stepPlan.whenStatus = u.kind === 'failure-only' ? 'failure' : 'always';
    else if (!isPlugin(first)) stepPlan.afterSetup = true;
    if (first.detach && first.ready?.command) stepPlan.readyTimeout = first.ready.timeout;
    plan.steps.push(stepPlan);
  }
  containers[0] = agentContainer(plan, options, pipeline, agentImage!, common.records);
  const own = new Set([...(remoteServices ? [] : serviceContainers), ...compiledUnits.map((u) => u.container)]);
  if (pipeline.imagePullSecrets.length > 0) {
    applyPullCredentials(containers.filter((c) => own.has(c.name!)), source.secrets ?? [], common, notes, ctx);
  }
  if (options.pullThroughCache) applyPullThroughCache(containers.filter((c) => own.has(c.name!)), options.pullThroughCache);
  if (withheld.size > 0) {
    notes.push(`secrets withheld from this build (pull request from a fork): ${[...withheld].sort().join(', ')}`);
  }
  for (const message of [...refused.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, m]) => m)) {
    notes.push(`${message}; ${REFUSED_SECRET_NOTE}`);
  }
  if (absent.size > 0) {
    notes.push(
      `secrets not found, left out (their variables are unset, as Drone leaves them empty): ${[...absent].sort().join(', ')}; ` +
        `ECS would otherwise stop the whole task before any step ran (ResourceInitializationError). ` +
        `Each is not set for repository ${ctx.repo.slug}: \`slipway secrets add --repo ${ctx.repo.slug} NAME --from-file -\``,
    );
  }

  const startsLeftOut = !pulls.startOrder && compiledUnits.some((u) => waitsInWrapper(u) && baseDeps.get(u.container)!.upstream.some((e) => e.kind === 'wrapped' && startsWithTask.has(e.container)));
  if (startsLeftOut) notes.push(`its later steps' images pull with the task: ordered by ECS START after the steps before them, its task definition would be over ECS's ${MAX_DEFINITION_BYTES} bytes`);
  const fargateTask = taskDefinitionInput(pipeline, containers, options, fail, notes, () => (pulls.size.over = pulls.startOrder));
  // On EC2: the same task in its EC2 form (ec2-task.ts), privileged where the pipeline needs it.
  const privileged = new Set([
    ...services.flatMap((s, i) => (runsPrivileged(s) ? [serviceContainers[i]!] : [])),
    ...compiledUnits.filter((u) => u.steps.some(runsPrivileged)).map((u) => u.container),
  ]);
  const taskDefinition = capacity.kind === 'ec2' ? ec2TaskDefinition(fargateTask, pipeline, privileged, notes) : fargateTask;
  // The tags auto_tag gives this build, per run, to the container of each image build step that has it.
  const perRunEnv: { container: string; env: (c: BuildContext) => Record<string, string> }[] = [];
  for (const u of compiledUnits) {
    const original = u.steps.map((s) => builds.get(s.name)).filter((s): s is Step => s !== undefined);
    if (original.length > 0) perRunEnv.push({ container: u.container, env: (c) => Object.assign({}, ...original.map((s) => autoTagEnvironment(s, c))) });
  }
  const fargateRun = runTaskInput({ pipeline, ctx, options, stageNumber, stage: stageEnv(pipeline, stageNumber), family: taskDefinition.family, pluginContainers, containerEnv: perRunEnv, segment: segment !== undefined, notes, fail, remoteServices, serviceTask: serviceTask !== undefined, forkRole: isFork(ctx, options) });
  const runTask = capacity.kind === 'ec2' ? ec2RunTask(fargateRun, taskDefinition.family, capacity.capacityProvider) : fargateRun;
  if (capacity.kind === 'ec2') {
    notes.push(
      capacity.needs.length > 0
        ? `runs on EC2 capacity (${capacity.capacityProvider}), one build per instance: ${[...new Set(capacity.needs.map((n) => `"${n.name}" ${n.kind.replace('-', ' ')}`))].join(', ')}`
        : `runs on warm EC2 capacity (${capacity.capacityProvider}), one build per instance`,
    );
  }
  return { name: pipeline.name, dependsOn: [...pipeline.dependsOn], taskDefinition, runTask, skippedSteps, plan, notes };
}

/** What DRONE_STAGE_* say of a pipeline that is stage `number` of its build. */
export function stageEnv(pipeline: Pipeline, number: number): StageEnvInput {
  return {
    name: pipeline.name,
    number,
    kind: 'pipeline',
    type: 'docker',
    os: pipeline.platform.os,
    arch: pipeline.platform.arch,
    dependsOn: pipeline.dependsOn,
    workspace: pipeline.workspace.path,
    workspaceBase: pipeline.workspace.base,
    skipVerify: pipeline.clone.skipVerify,
  };
}
