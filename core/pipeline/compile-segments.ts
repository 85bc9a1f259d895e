// A pipeline over ECS's 10 containers → one task definition per segment of the cut
// (segments.ts), each compiled as a stage of its own with what it must know of the
// segments before it (docs/design/split-pipelines.md):
// - container names are handed out once for the whole pipeline, so a step keeps its
//   container (and record directory, and log stream name) whatever segment it runs in;
// - DRONE_STEP_NUMBER counts over the whole pipeline;
// - a dependency on a step of an earlier segment is over before the segment starts (its
//   steps wait for the agent instead); steps that run on a status wait for, and watch,
//   the earlier segments' records too, which the agent seeds from the snapshot; a plain
//   step is skipped when a step of an earlier segment failed (segment-script.ts), as ECS's
//   SUCCESS dependency would have kept it from starting in one task;
// - each segment's task definition has a record volume for every earlier step container,
//   so the seeded records are as read-only to steps as their own ones.
// - services and detached steps run in the service task (compiled here too: its agent in
//   service mode, the services, the detached steps), which lives for the stage's whole life;
//   the segments carry no services, and their steps reach the services by name at that
//   task's IP (script.ts, hostsLines), after their agent has asked the service task's agent
//   whether the services are ready (contract.ts, SERVICES_READY_PORT).

import type { CompileOptions, CompiledStage, PipelineSource } from './compile-options.js';
import type { BuildContext } from './context.js';
import { NameAllocator } from './container-names.js';
import { AGENT_CONTAINER, AGENT_STATE_VOLUME, STATE_VOLUME, WORKSPACE_VOLUME } from './contract.js';
import type { PackUnit } from './pack.js';
import { MAX_CLIENT_TOKEN } from './limits.js';
import { LINT, localhostUseMessage, localhostUses } from './lint.js';
import { planSegments, segmentRunKey, serviceTaskRunKey, splitRefusal, type Segment } from './segments.js';
import { createHash } from 'node:crypto';
import type { OrderedStep } from './step-order.js';
import type { Pipeline, Step } from './types.js';

/** What one segment's compilation knows beyond its own steps. */
export interface SegmentSource {
  number: number;
  count: number;
  /** Its step containers, as the cut made them. */
  units: PackUnit[];
  /** Every step of the pipeline → its container, in whichever segment it runs. */
  containerOf: ReadonlyMap<string, string>;
  /** Names no gate container may take: every step container of the pipeline. */
  reserved: string[];
  /** Step containers of earlier segments (their records are seeded). */
  earlier: string[];
  /** Those of them whose failure fails the build (not detached, not `failure: ignore`). */
  earlierWatched: string[];
  stepNumber: (step: Step) => number;
  /** The pipeline's services run in the service task: steps reach them at its IP, by name. */
  remoteServices: boolean;
}

/** What the compilation of a split pipeline's service task knows. */
export interface ServiceTaskSource {
  /** The detached steps it runs beside the services. */
  detached: string[];
  /** Names its containers may not take: the segments' step containers. */
  reserved: string[];
  stepNumber: (step: Step) => number;
}

type CompileOne = (pipeline: Pipeline, ctx: BuildContext, options: CompileOptions, source: PipelineSource & { segment?: SegmentSource; serviceTask?: ServiceTaskSource }) => CompiledStage;

export function compileSplit(
  pipeline: Pipeline,
  ctx: BuildContext,
  options: CompileOptions,
  source: PipelineSource,
  active: ReadonlyMap<string, OrderedStep>,
  compileOne: CompileOne,
): { kind: 'split'; stage: CompiledStage } | { kind: 'refused'; reason: string } {
  const plan = planSegments(pipeline.services, pipeline.steps, active, pipeline.workspace);
  if (plan.kind !== 'split') return { kind: 'refused', reason: splitRefusal(plan) };

  const byName = new Map([...active.values()].map((o) => [o.step.name, o] as const));
  const names = new NameAllocator([AGENT_CONTAINER, WORKSPACE_VOLUME, STATE_VOLUME, AGENT_STATE_VOLUME]);
  const containerOf = new Map<string, string>();
  const unitsOf = plan.segments.map((seg) =>
    seg.containers.map((c) => {
      const container = names.allocate(c.steps[0]!, 'step');
      for (const s of c.steps) containerOf.set(s, container);
      return { steps: c.steps.map((s) => byName.get(s)!.step), kind: c.kind } satisfies PackUnit;
    }),
  );
  const reserved = [...new Set(containerOf.values())];
  const numbered = [...active.values()].map((o) => o.step);
  // Drone counts the services before the steps (compile.ts), wherever they run.
  const serviceCount = plan.serviceTask?.services.length ?? 0;
  const stepNumber = (step: Step) => (pipeline.clone.disable ? 0 : 1) + serviceCount + numbered.indexOf(step) + 1;
  const counts = (u: PackUnit) => !u.steps[0]!.detach && u.steps.every((s) => s.failure !== 'ignore');

  const compiled = unitsOf.map((units, i) => {
    const before = unitsOf.slice(0, i).flat();
    return compileOne(pipeline, ctx, options, {
      ...source,
      segment: {
        number: i + 1,
        count: unitsOf.length,
        units,
        containerOf,
        reserved,
        earlier: before.map((u) => containerOf.get(u.steps[0]!.name)!),
        earlierWatched: before.filter(counts).map((u) => containerOf.get(u.steps[0]!.name)!),
        stepNumber,
        remoteServices: plan.serviceTask !== undefined,
      },
    });
  });
  // The services and the detached steps (which start with the first segment: segments.ts)
  // in a task of their own for the stage's whole life.
  const serviceTask = plan.serviceTask
    ? compileOne(pipeline, ctx, options, { ...source, serviceTask: { detached: plan.serviceTask.detached, reserved, stepNumber } })
    : undefined;
  const first = compiled[0]!;
  const notes = [
    `needs more than the 10 containers ECS allows in a task: runs as ${compiled.length} consecutive tasks (${plan.segments
      .map((s) => `${s.number}: ${s.containers.flatMap((c) => c.steps).join(', ')}`)
      .join('; ')}), each starting from the workspace the one before left (docs/design/split-pipelines.md)`,
    ...plan.segments.flatMap((s) =>
      s.containers.filter((c) => c.steps.length > 1).map((c) => `steps ${c.steps.map((n) => JSON.stringify(n)).join(', ')} share one container (fewer segments)`),
    ),
    ...(plan.serviceTask
      ? [
          `its ${[...plan.serviceTask.services.map((n) => `service "${n}"`), ...plan.serviceTask.detached.map((d) => `detached step "${d}"`)].join(', ')} run in a task of their own ` +
            `for the whole stage: steps reach them by name (${[...plan.serviceTask.services, ...plan.serviceTask.detached].join(', ')}), not at localhost`,
        ]
      : []),
    ...(plan.serviceTask ? localhostUses(pipeline).map((u) => `${LINT.localhostAcrossTasks}: ${localhostUseMessage(u)}`) : []),
    ...[...new Set([...compiled.flatMap((c) => c.notes), ...(serviceTask?.notes ?? [])])],
  ];
  return {
    kind: 'split',
    stage: {
      ...first,
      notes,
      segments: compiled.map((c, i) => ({
        number: i + 1,
        steps: plan.segments[i]!.containers.flatMap((x) => x.steps),
        taskDefinition: c.taskDefinition,
        // One task per segment: a RunTask of segment 2 must not return segment 1's task.
        runTask: { ...c.runTask, ...(c.runTask.clientToken ? { clientToken: segmentToken(c.runTask.clientToken, i + 1) } : {}) },
        plan: c.plan,
        later: laterOf(plan.segments, i + 1),
      })),
      ...(serviceTask
        ? {
            serviceTask: {
              taskDefinition: serviceTask.taskDefinition,
              runTask: { ...serviceTask.runTask, ...(serviceTask.runTask.clientToken ? { clientToken: serviceTaskToken(serviceTask.runTask.clientToken) } : {}) },
              plan: serviceTask.plan,
            },
          }
        : {}),
    },
  };
}

function laterOf(segments: readonly Segment[], number: number): { runOnFailure: boolean; runAlways: boolean } {
  const kinds = segments.filter((s) => s.number > number).flatMap((s) => s.containers.map((c) => c.kind));
  return { runOnFailure: kinds.includes('failure-only') || kinds.includes('always'), runAlways: kinds.includes('always') };
}

/** The service task's RunTask clientToken: its own, never a segment's. */
function serviceTaskToken(stageToken: string): string {
  const key = serviceTaskRunKey(stageToken);
  return key.length <= MAX_CLIENT_TOKEN ? key : createHash('sha256').update(key).digest('hex').slice(0, MAX_CLIENT_TOKEN);
}

/** The segment's RunTask clientToken: the stage's for the first, the stage's and the segment's (hashed past 64 characters) for the others. */
function segmentToken(stageToken: string, segment: number): string {
  const key = segmentRunKey(stageToken, segment);
  return key.length <= MAX_CLIENT_TOKEN ? key : createHash('sha256').update(key).digest('hex').slice(0, MAX_CLIENT_TOKEN);
}
