// A pipeline that needs more containers than one ECS task holds (10, not adjustable:
// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-quotas.html, "Containers
// per task definition") cut into consecutive tasks of one stage, "segments", as designed in
// docs/design/split-pipelines.md. Pure: the same pipeline always gives the same cut.
//
// - A pipeline that fits (after packing, pack.ts) is one task, as before: nothing changes.
// - Otherwise its services and detached steps move to a "service task" that lives for the
//   whole stage (steps reach them by name), and the other step containers are cut into
//   segments, each beside its own agent: at most MAX_CONTAINERS - 1 step containers
//   (a status-gated plugin step brings its gate container along).
//   That task shares no files with the segments (serviceTaskBlockers): a service that uses
//   the steps' workspace or volumes, or a detached step after other steps, cannot be split.
// - The cut follows a topological order of the steps (file order among steps that could run
//   together), so every segment is closed under predecessors: no step waits for a step of a
//   later segment. Parallel branches share a segment where they fit, else they are run one
//   segment after the other (slower, never wrong).
// - Linear pipelines pack steps that share an image (pack.ts) only as far as it saves a
//   segment: no cut is ever inside a packed container (a unit is placed whole).

import { createHash } from 'node:crypto';
import { MAX_CONTAINERS } from './limits.js';
import { fitContainers, isPlugin, pack, type PackUnit } from './pack.js';
import { stepDependencies, stepKind, type OrderedStep, type StepDependencies, type StepKind } from './step-order.js';
import type { Pipeline, Step } from './types.js';

/** One step container of a segment: its steps (several when packed), and whether a status gate container goes with it. */
export interface SegmentContainer {
  steps: string[];
  kind: StepKind;
  gate: boolean;
}

export interface Segment {
  /** 1-based, the order in which the segments run. */
  number: number;
  containers: SegmentContainer[];
  /** Containers of its task: its agent, its step containers and their gates. */
  size: number;
}

/** The services and detached steps of a split pipeline: one task for the stage's whole life. */
export interface ServiceTask {
  services: string[];
  /** Detached steps: they start with the service task (none comes after another step). */
  detached: string[];
  /** Containers of its task: its agent, the services and the detached steps. */
  size: number;
}

export type SegmentPlan =
  /** Fits in one task (packing steps where needed): runs as it always has. */
  | { kind: 'single'; size: number }
  | { kind: 'split'; segments: Segment[]; serviceTask?: ServiceTask }
  /** Cannot be cut into tasks of MAX_CONTAINERS: why, for the user. */
  | { kind: 'impossible'; reason: string };

/**
 * Why a pipeline over the limit cannot run as consecutive tasks (a plan that is not a plain
 * split): the cut's own reason, or the service task that is not built yet.
 */
export function splitRefusal(plan: SegmentPlan): string {
  if (plan.kind === 'impossible') return plan.reason;
  if (plan.kind === 'single') return 'it fits in one task';
  return 'it can be split';
}

/** Step containers beside the agent in one segment. */
export const SEGMENT_BUDGET = MAX_CONTAINERS - 1;

/**
 * The cut of a pipeline as lint sees it: every step that can run in some build (a step
 * whose `when: status` matches nothing never runs), since lint does not know the build.
 */
export function segments(pipeline: Pipeline): SegmentPlan {
  const active = new Map<string, OrderedStep>();
  for (const step of pipeline.steps) {
    const kind = stepKind(step);
    if (kind) active.set(step.name, { step, kind });
  }
  return planSegments(pipeline.services, pipeline.steps, active, pipeline.workspace);
}

/**
 * The cut of the steps that run in one build. `all` are the pipeline's steps in file order
 * (those left out by `when:` included: they are seen through), `active` those that run.
 */
export function planSegments(services: readonly Step[], all: readonly Step[], active: ReadonlyMap<string, OrderedStep>, workspace?: Pipeline['workspace']): SegmentPlan {
  const linear = !all.some((s) => s.dependsOn.length > 0);
  const units: PackUnit[] = [...active.values()].map((o) => ({ steps: [o.step], kind: o.kind }));
  const fit = fitContainers(services.length, units, linear);
  if (fit.after <= MAX_CONTAINERS) return { kind: 'single', size: fit.after };

  const order = stepDependencies(all, active);
  const detached = [...active.values()].filter((o) => o.step.detach);
  const gatedDetached = detached.find((o) => o.kind !== 'plain');
  if (gatedDetached) {
    return {
      kind: 'impossible',
      reason: `its detached step "${gatedDetached.step.name}" has a status condition, and a detached step of a pipeline split into several tasks runs in the task of the services, where no status gate is`,
    };
  }
  const serviceSize = 1 + services.length + detached.length;
  if (serviceSize > MAX_CONTAINERS) {
    return {
      kind: 'impossible',
      reason: `its ${services.length} services and ${detached.length} detached steps need ${serviceSize} containers with their agent in the task that keeps them up while the other steps run, but ECS allows ${MAX_CONTAINERS} per task`,
    };
  }

  const blockers = blockersOf(services, active, order, workspace);
  if (blockers.length > 0) return { kind: 'impossible', reason: serviceTaskRefusal(blockers) };

  const attached = units.filter((u) => !u.steps[0]!.detach);
  const predecessors = (unit: PackUnit, unitOf: ReadonlyMap<string, PackUnit>): PackUnit[] => {
    const out = new Set<PackUnit>();
    for (const s of unit.steps) {
      const d = order.get(s.name)!;
      for (const name of [...d.on.map((o) => o.step), ...d.after]) {
        const up = unitOf.get(name);
        if (up && up !== unit) out.add(up);
      }
    }
    return [...out];
  };
  const cutOf = (list: PackUnit[]): PackUnit[][] => cut(list, predecessors, all);

  let chosen = cutOf(attached);
  if (linear) {
    // Pack as little as possible for the fewest segments: logs stay per step wherever they can.
    // Never across a detached step: it runs in another task.
    const runs: PackUnit[][] = [[]];
    for (const u of units) {
      if (u.steps[0]!.detach) runs.push([]);
      else runs.at(-1)!.push(u);
    }
    const packed = (overflow: number): PackUnit[] => {
      let left = overflow;
      return runs.flatMap((run) => {
        const r = pack(run, left, true);
        left -= r.saved;
        return r.units;
      });
    };
    const fewest = cutOf(packed(Number.POSITIVE_INFINITY)).length;
    for (let overflow = 0; overflow <= attached.length; overflow++) {
      const candidate = cutOf(packed(overflow));
      if (candidate.length === fewest) {
        chosen = candidate;
        break;
      }
    }
  }

  const out: Segment[] = chosen.map((list, i) => {
    const containers = list.map((u) => ({ steps: u.steps.map((s) => s.name), kind: u.kind, gate: gated(u, i > 0) }));
    return { number: i + 1, containers, size: 1 + list.reduce((n, u) => n + sizeOf(u, i > 0), 0) };
  });
  if (services.length === 0 && detached.length === 0) return { kind: 'split', segments: out };
  const serviceTask: ServiceTask = { services: services.map((s) => s.name), detached: detached.map((o) => o.step.name), size: serviceSize };
  return { kind: 'split', segments: out, serviceTask };
}

/**
 * Everything that keeps the services and detached steps of a pipeline from a task of their
 * own, as the cut sees it (segments): what `impossible` reasons name, for tools that count
 * them (bench/lib/cut-refusals.ts). Empty when nothing does.
 */
export function cutBlockers(pipeline: Pipeline): ServiceTaskBlocker[] {
  const active = new Map<string, OrderedStep>();
  for (const step of pipeline.steps) {
    const kind = stepKind(step);
    if (kind) active.set(step.name, { step, kind });
  }
  return blockersOf(pipeline.services, active, stepDependencies(pipeline.steps, active), pipeline.workspace);
}

function blockersOf(services: readonly Step[], active: ReadonlyMap<string, OrderedStep>, order: ReadonlyMap<string, StepDependencies>, workspace?: Pipeline['workspace']): ServiceTaskBlocker[] {
  const detached = [...active.values()].filter((o) => o.step.detach).map((o) => o.step);
  // A detached step runs in the service task, which starts with the first segment from a
  // clone of its own: one that comes after other steps would need the files they wrote.
  const detachedNames = new Set(detached.map((s) => s.name));
  const upstreamOf = (name: string, seen = new Set<string>()): string[] =>
    order
      .get(name)!
      .on.map((o) => o.step)
      .filter((up) => !seen.has(up) && seen.add(up))
      .flatMap((up) => (detachedNames.has(up) ? upstreamOf(up, seen) : [up]));
  const late = detached.flatMap((s) => {
    const [up] = upstreamOf(s.name);
    return up === undefined ? [] : [{ detached: s.name, after: up }];
  });
  const attached = [...active.values()].filter((o) => !o.step.detach).map((o) => o.step);
  return serviceTaskBlockers(services, detached, attached, workspace, late);
}

/**
 * One reason why the services and detached steps of a pipeline cannot move to a task of their
 * own (serviceTaskBlockers), with what the file says that shows it.
 */
export type ServiceTaskBlocker =
  /** A service whose command line or environment names the workspace: `where` is that text. */
  | { kind: 'workspace'; service: string; dir: string; where: string }
  /** A service (or detached step) that mounts a volume that steps mount too. */
  | { kind: 'volume'; service: string; detached: boolean; volume: string; path: string; steps: { name: string; path: string }[] }
  /** A detached step that comes after a step (it would need the files that step wrote). */
  | { kind: 'late-detached'; detached: string; after: string };

/**
 * Every reason why the services (and detached steps) of a pipeline cannot move to a task of
 * their own, service by service, then the late detached steps; empty when they can. That task shares no volume with the segments:
 * its workspace is its own clone, and a temp volume is per task. So a service that mounts a
 * volume a step mounts too, or whose command line or environment names the workspace (say, a
 * web server whose document root the steps build), would silently see other files than in one
 * task; and a detached step that comes after other steps (`late`, from the step order) would
 * start without their files. All are listed, so that the user learns in one reading what stands
 * in the way. Judged from the text of the file: a service that reads the workspace without
 * naming it (its image's own default) is not seen here.
 */
export function serviceTaskBlockers(
  services: readonly Step[],
  detached: readonly Step[],
  steps: readonly Step[],
  workspace?: Pipeline['workspace'],
  late: readonly { detached: string; after: string }[] = [],
): ServiceTaskBlocker[] {
  const out: ServiceTaskBlocker[] = [];
  for (const svc of [...services, ...detached]) {
    for (const v of svc.volumes) {
      const sharing = steps.flatMap((s) => s.volumes.filter((m) => m.name === v.name).map((m) => ({ name: s.name, path: m.path })));
      if (sharing.length > 0) out.push({ kind: 'volume', service: svc.name, detached: svc.detach, volume: v.name, path: v.path, steps: sharing });
    }
    if (svc.detach || !workspace) continue;
    const where = workspaceMention(svc, workspace);
    if (where) out.push({ kind: 'workspace', service: svc.name, ...where });
  }
  for (const l of late) out.push({ kind: 'late-detached', ...l });
  return out;
}

/** Where a service's command line or environment names the workspace (base first, the wider), or undefined. */
function workspaceMention(svc: Step, workspace: Pipeline['workspace']): { dir: string; where: string } | undefined {
  const texts: { where: (t: string) => string; text: string }[] = [
    ...Object.entries(svc.environment).flatMap(([k, v]) => ('value' in v ? [{ where: (t: string) => `its environment ${k}=${t}`, text: v.value }] : [])),
    ...(svc.entrypoint ?? []).map((text) => ({ where: (t: string) => `its entrypoint "${t}"`, text })),
    ...(svc.command ?? []).map((text) => ({ where: (t: string) => `its command "${t}"`, text })),
    ...svc.commands.map((text) => ({ where: (t: string) => `its commands: "${t}"`, text })),
  ];
  for (const dir of [workspace.base, workspace.path]) {
    const hit = texts.find((t) => pathMentioned(t.text, dir));
    if (hit) return { dir, where: hit.where(excerpt(hit.text, dir)) };
  }
  return undefined;
}

/** Room for the text that names the workspace, in a message that must stay one short line. */
const EXCERPT_CHARS = 100;

/**
 * The line of `text` (a command may be a whole script) that names `dir`, cut to EXCERPT_CHARS
 * around it, control characters shown as `\xNN`: the file is attacker-written, and a newline
 * in a diagnostic would forge a line of its own in the output.
 */
function excerpt(text: string, dir: string): string {
  const line = (text.split('\n').find((l) => l.includes(dir)) ?? text).trim();
  const at = Math.max(0, line.indexOf(dir) - 30);
  const cut = line.length <= EXCERPT_CHARS ? line : `${at > 0 ? '…' : ''}${line.slice(at, at + EXCERPT_CHARS)}${at + EXCERPT_CHARS < line.length ? '…' : ''}`;
  return printable(cut);
}

/** Control characters as `\\xNN`, so that what the file says stays on one line of the message. */
function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Steps named in one clause before the rest are counted (a cache volume may be in every step). */
const STEPS_NAMED = 3;

/** The refusal of a cut for its blockers: each named with the service, path or volume, and step. */
export function serviceTaskRefusal(blockers: readonly ServiceTaskBlocker[]): string {
  const clause = (b: ServiceTaskBlocker): string => {
    switch (b.kind) {
      case 'workspace':
        return `service "${b.service}" reads the workspace ${b.dir} (${b.where})`;
      case 'volume': {
        const named = b.steps.slice(0, STEPS_NAMED).map((s) => `step "${s.name}" (at ${printable(s.path)})`);
        const more = b.steps.length - named.length;
        const who = more > 0 ? `${named.join(', ')} and ${more} more ${more > 1 ? 'steps' : 'step'}` : named.join(', ');
        return `${b.detached ? 'detached step' : 'service'} "${b.service}" mounts the volume "${b.volume}" (at ${printable(b.path)}) that ${who} ${b.steps.length > 1 ? 'mount' : 'mounts'} too`;
      }
      case 'late-detached':
        return `detached step "${b.detached}" comes after step "${b.after}", so it would not see the files written before it`;
    }
  };
  return (
    "a pipeline split into several tasks runs its services and detached steps in a task of their own, started from its own clone with the first of the steps' tasks and sharing no volume with them, " +
    `but ${blockers.map(clause).join('; ')}`
  );
}

/** `dir` as a path in `text`: itself or a path below it, not a longer name that starts the same. */
function pathMentioned(text: string, dir: string): boolean {
  let at = text.indexOf(dir);
  while (at >= 0) {
    const next = text[at + dir.length];
    if (next === undefined || next === '/' || !/[A-Za-z0-9._-]/.test(next)) return true;
    at = text.indexOf(dir, at + 1);
  }
  return false;
}

/**
 * A plugin step (no wrapper of its own) that decides at run time gets a gate container: one
 * with a status condition (as in one task), and in a later segment any plugin step, whose gate
 * skips it when a step of an earlier segment failed (compile-segments.ts).
 */
export function gated(u: PackUnit, later: boolean): boolean {
  return isPlugin(u.steps[0]!) && (u.kind !== 'plain' || later);
}

function sizeOf(u: PackUnit, later: boolean): number {
  return gated(u, later) ? 2 : 1;
}

/**
 * Units in a topological order (among units whose predecessors are all placed, the one
 * first in the file), then cut greedily into segments of at most SEGMENT_BUDGET containers.
 * Each segment is a prefix of the order minus the ones before, so it is closed under
 * predecessors.
 */
type Relation = (u: PackUnit, unitOf: ReadonlyMap<string, PackUnit>) => PackUnit[];

function cut(units: PackUnit[], predecessors: Relation, all: readonly Step[]): PackUnit[][] {
  const unitOf = new Map<string, PackUnit>();
  for (const u of units) for (const s of u.steps) unitOf.set(s.name, u);
  const fileIndex = new Map(all.map((s, i) => [s.name, i] as const));
  const first = (u: PackUnit) => fileIndex.get(u.steps[0]!.name)!;
  const preds = new Map(units.map((u) => [u, predecessors(u, unitOf)] as const));
  const placed = new Set<PackUnit>();
  const ordered: PackUnit[] = [];
  while (ordered.length < units.length) {
    const ready = units.filter((u) => !placed.has(u) && preds.get(u)!.every((p) => placed.has(p)));
    // A cycle cannot reach here: lint rejects one in `depends_on`, and the compiler never
    // sees a pipeline with lint errors. Placing the rest in file order keeps this total.
    const next = ready.length > 0 ? ready.reduce((a, b) => (first(a) <= first(b) ? a : b)) : units.filter((u) => !placed.has(u)).reduce((a, b) => (first(a) <= first(b) ? a : b));
    placed.add(next);
    ordered.push(next);
  }
  const out: PackUnit[][] = [];
  let current: PackUnit[] = [];
  let used = 0;
  for (const u of ordered) {
    if (used + sizeOf(u, out.length > 0) > SEGMENT_BUDGET && current.length > 0) {
      out.push(current);
      current = [];
      used = 0;
    }
    current.push(u);
    // Its size where it landed: a plugin step gets a gate in any segment but the first.
    used += sizeOf(u, out.length > 0);
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** The key of the service task's RunTask tokens: the stage key and `#services`, never a segment's. */
export function serviceTaskRunKey(stageKey: string): string {
  return `${stageKey}#services`;
}

/**
 * Where the workspace snapshot of segment `segment` of a stage lives in the snapshot bucket
 * (written by that segment's agent, read by the next one's). The build is named by a hash
 * of its id: a key of bounded length keeps the presigned URLs within the room RunTask's
 * overrides keep for them (override-budget.ts SNAPSHOT_URL_MAX_CHARS), whatever the
 * repository's name (a GitLab path may be hundreds of characters), and needs no escaping.
 * Each attempt of a segment (a Spot interruption runs it again) has its own key: a snapshot
 * is written once, and the interrupted attempt may have written its own before it stopped.
 */
export function snapshotKey(buildId: string, stageNumber: number, segment: number, attempt: number): string {
  const build = createHash('sha256').update(buildId).digest('hex').slice(0, 32);
  return `${SNAPSHOT_PREFIX}${build}/${stageNumber}/${segment}-${attempt}.tar.zst`;
}

/**
 * Where the service task of a stage leaves its private IP for the stage's first segment, started
 * in the same pass (docs/design/split-pipelines.md, "Starting the service task and segment 1
 * together"): beside the stage's snapshots, under the prefix the signer may read and write and
 * the bucket's lifecycle rule empties. One per stage, as the service task is (its RunTask token).
 */
export function servicesAddressKey(buildId: string, stageNumber: number): string {
  const build = createHash('sha256').update(buildId).digest('hex').slice(0, 32);
  return `${SNAPSHOT_PREFIX}${build}/${stageNumber}/services-address.json`;
}

/** The snapshot bucket's prefix of workspace snapshots: what the signer may read and write (lib/snapshot-bucket.ts). */
export const SNAPSHOT_PREFIX = 'builds/';

/**
 * The key RunTask's tokens are derived from (core/scaling/job.ts runTaskTokens): the stage
 * key for the first segment (so a stage that is not split keeps its tokens), the stage key
 * and the segment number for the others, so each segment gets its own task while a retried
 * or duplicated start of one segment gets the same task back.
 */
export function segmentRunKey(stageKey: string, segment: number): string {
  if (!Number.isInteger(segment) || segment < 1) throw new RangeError(`segment must be a positive integer, got ${segment}`);
  return segment === 1 ? stageKey : `${stageKey}#segment-${segment}`;
}
