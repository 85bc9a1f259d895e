// ECS allows 10 containers per task. A pipeline with more steps is packed: consecutive
// steps that share an image run one after another in one container (the plan lists
// their names). Only steps whose container would be interchangeable are packed: same
// image, shell, user, working directory, secrets and volumes, run by a script, never
// detached or status-gated, `failure: always`, in a linear pipeline. Merges are made
// from the first step on, one at a time, until the task fits: steps keep their own
// container (and log stream) wherever the limit allows.

import { imageBuildKind } from './image-build.js';
import { MAX_CONTAINERS } from './limits.js';
import type { StepKind } from './step-order.js';
import type { Step } from './types.js';

export interface PackUnit {
  steps: Step[];
  kind: StepKind;
}

function secretRefs(step: Step): string {
  const refs = Object.entries(step.environment)
    .filter((e): e is [string, { fromSecret: string }] => 'fromSecret' in e[1])
    .map(([name, v]) => `${name}=${v.fromSecret}`)
    .sort();
  return refs.join(',');
}

function mounts(step: Step): string {
  return step.volumes.map((v) => `${v.name}:${v.path}`).sort().join(',');
}

export function packable(step: Step, kind: StepKind): boolean {
  return kind === 'plain' && !step.detach && step.failure === 'always' && step.commands.length > 0 && !step.ready && !step.resources;
}

function compatible(a: Step, b: Step): boolean {
  return (
    a.image === b.image &&
    a.shell === b.shell &&
    a.user === b.user &&
    a.workingDir === b.workingDir &&
    secretRefs(a) === secretRefs(b) &&
    mounts(a) === mounts(b)
  );
}

/**
 * Merges adjacent packable units until `overflow` containers are saved or nothing more
 * can be merged; returns the new units and how many containers were saved.
 */
export function pack(units: readonly PackUnit[], overflow: number, linear: boolean): { units: PackUnit[]; saved: number } {
  const out = units.map((u) => ({ ...u, steps: [...u.steps] }));
  let saved = 0;
  if (!linear) return { units: out, saved };
  for (let i = 0; i < out.length - 1 && saved < overflow; ) {
    const a = out[i]!;
    const b = out[i + 1]!;
    const ok = a.steps.every((s) => packable(s, a.kind)) && b.steps.every((s) => packable(s, b.kind)) && compatible(a.steps[0]!, b.steps[0]!);
    if (ok) {
      a.steps.push(...b.steps);
      out.splice(i + 1, 1);
      saved += 1;
    } else {
      i += 1;
    }
  }
  return { units: out, saved };
}

/** Literal environment shared by every packed step (same name and value); the rest is per step. */
export function splitEnvironment(envs: readonly Record<string, string>[]): { common: Record<string, string>; own: Record<string, string>[] } {
  const first = envs[0] ?? {};
  const common: Record<string, string> = {};
  for (const [name, value] of Object.entries(first)) {
    if (envs.every((env) => env[name] === value)) common[name] = value;
  }
  const own = envs.map((env) => Object.fromEntries(Object.entries(env).filter(([name]) => !(name in common))));
  return { common, own };
}

/** A step without commands runs its image's entrypoint: plugins, and images with `command:`. */
export function isPlugin(step: Step): boolean {
  // An image build plugin becomes a builder step with commands (image-build.ts): it is counted as one.
  return step.commands.length === 0 && imageBuildKind(step) === undefined;
}

export interface ContainerFit {
  /** Containers before packing: the agent, services, steps and status gates. */
  before: number;
  /** After packing as far as allowed; over MAX_CONTAINERS when the task cannot be built. */
  after: number;
  units: PackUnit[];
  /** Status gates still needed after packing (plugin steps with a status condition). */
  gates: number;
}

/**
 * How many containers a pipeline's task needs, packing steps when it needs more than ECS
 * allows: the one count both the compiler (which refuses) and lint (which warns early) use.
 */
export function fitContainers(services: number, units: readonly PackUnit[], linear: boolean): ContainerFit {
  const gatesOf = (list: readonly PackUnit[]) => list.filter((u) => u.kind !== 'plain' && isPlugin(u.steps[0]!)).length;
  const count = (list: readonly PackUnit[]) => 1 + services + list.length + gatesOf(list);
  const before = count(units);
  let out = units.map((u) => ({ ...u, steps: [...u.steps] }));
  if (before > MAX_CONTAINERS) out = pack(out, before - MAX_CONTAINERS, linear).units;
  return { before, after: count(out), units: out, gates: gatesOf(out) };
}

/** The message for a task that needs more containers than ECS allows. */
export function tooManyContainersMessage(fit: ContainerFit, services: number, steps: number, linear: boolean): string {
  return (
    `needs ${fit.before} containers (the agent, ${services} services, ${steps} steps${fit.gates ? `, ${fit.gates} status gates` : ''}) but ECS allows ${MAX_CONTAINERS} per task, ` +
    `and packing steps that share an image brings it only to ${fit.after}. ` +
    `Split the pipeline into several pipelines joined by depends_on, or give consecutive steps the same image so they can share a container` +
    (linear ? '' : ' (steps of a pipeline that uses depends_on are never packed)')
  );
}
