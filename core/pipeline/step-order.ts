// When each step may start, expressed in what ECS understands: `dependsOn` conditions
// between containers (START, COMPLETE, SUCCESS, HEALTHY), plus, for steps whose `when:`
// has a status, a wait in the step's own wrapper (script.ts).
//
// What ECS does with a dependency that never started (because its own SUCCESS dependency
// failed): it satisfies no condition. COMPLETE needs a known exit code and START a running
// container, so a dependent of a never-started container never starts either. Hence:
//   - A step waits for its upstream: the previous step (linear pipelines) or its
//     `depends_on` (DAG pipelines). A step left out by `when:` is seen through: its
//     dependents wait for its own upstream instead, as Drone treats it as done.
//   - A plain step (runs only while the build passes) waits with SUCCESS on a plain
//     upstream step. When the upstream step cannot vouch for the build's success
//     it waits on it for ordering and looks further up for a step that can:
//       * `failure: ignore` → COMPLETE (it may fail, or be blocked and stop);
//       * detached → START, or HEALTHY when it has a `ready.command`;
//       * runs on failure only → COMPLETE (it always starts, see below, and ends);
//       * runs always → SUCCESS (it exits 0 when the build passes).
//     So a plain step never starts after a failure: some SUCCESS dependency failed.
//   - A step that runs on failure (or always) must run after its upstream has ended,
//     whether it ran, failed or could never start; no ECS condition says "ended or never
//     started". So such a step depends in ECS only on the agent having started (START:
//     certain, and also after a failed clone, when the agent never turns HEALTHY), and its
//     wrapper waits for the agent's setup record (contract.ts SETUP_RECORD: the clone and the
//     services done, or what failed), then until each step it comes after has a final
//     record: `<container>.exit`, `.skipped`, or `.unreachable` (written by the agent once it
//     knows a step can never start, or that it is skipped after a failed setup). It waits for every step upstream of it,
//     transitively, as Drone waits for all of a step's dependencies before deciding to
//     skip one: a step declared unreachable early must not let it run while a sibling
//     branch is still running. Detached steps are seen through, never waited for.
//   - A step with no upstream left waits for the root: the agent HEALTHY (clone done,
//     services' ports open) and every service with a `ready.command` HEALTHY.
//
// Who enforces these conditions: ECS (the task definition's dependsOn) for plugin steps,
// gates and status steps' START on the agent; for a plain step with commands, its wrapper
// (script.ts, upstreamLines), which reads its upstream's records with the same rules, so that
// its container starts with the task and ECS pulls its image at once (compile.ts). The agent
// decides every step from these conditions either way (task-runner/decide-steps.ts).
//
// One difference from Drone remains: in a DAG, a failure in one branch does not stop
// plain steps of an independent branch that are already unblocked.

import { statusMatches } from './conditions.js';
import type { Step } from './types.js';

export type StepKind = 'plain' | 'always' | 'failure-only';
export type DependencyCondition = 'START' | 'COMPLETE' | 'SUCCESS' | 'HEALTHY';

export interface OrderedStep {
  step: Step;
  kind: StepKind;
}

export interface StepDependencies {
  /** Step names and the condition on each, in a stable order. */
  on: { step: string; condition: DependencyCondition }[];
  /**
   * Waits for the root: for a plain step, the agent (and services with a health command)
   * healthy; for a status step, the agent started (compile.ts).
   */
  root: boolean;
  /**
   * Steps whose end a status-conditional step waits for in its wrapper (every non-detached
   * step upstream of it, transitively), in file order; empty for plain steps.
   */
  after: string[];
}

/**
 * `all` are the pipeline's steps in file order (including those left out by `when:`),
 * `active` the ones that run, by name.
 */
export function stepDependencies(all: readonly Step[], active: ReadonlyMap<string, OrderedStep>): Map<string, StepDependencies> {
  const byName = new Map(all.map((s) => [s.name, s] as const));
  const dag = all.some((s) => s.dependsOn.length > 0);
  const rawUpstream = (step: Step): string[] => {
    if (dag) return step.dependsOn.filter((n) => byName.has(n));
    // Linear: the previous step in file order; detached steps are in that chain too.
    const i = all.indexOf(step);
    return i > 0 ? [all[i - 1]!.name] : [];
  };

  // Upstream through skipped steps: their dependents inherit their upstream.
  const resolvedCache = new Map<string, string[]>();
  const resolved = (name: string, seen: Set<string> = new Set()): string[] => {
    const cached = resolvedCache.get(name);
    if (cached) return cached;
    const out: string[] = [];
    for (const up of rawUpstream(byName.get(name)!)) {
      if (active.has(up)) out.push(up);
      else if (!seen.has(up)) {
        seen.add(up);
        out.push(...resolved(up, seen));
      }
    }
    const unique = [...new Set(out)];
    resolvedCache.set(name, unique);
    return unique;
  };

  const order = new Map(all.map((s, i) => [s.name, i] as const));
  const result = new Map<string, StepDependencies>();
  for (const [name, ordered] of active) {
    if (ordered.kind !== 'plain') {
      result.set(name, { on: [], root: true, after: ancestors(name, resolved, active).sort((a, b) => order.get(a)! - order.get(b)!) });
      continue;
    }
    const on = new Map<string, DependencyCondition>();
    let root = false;
    const visited = new Set<string>();
    const visit = (upstreamOf: string) => {
      const ups = resolved(upstreamOf);
      if (ups.length === 0) root = true;
      for (const up of ups) {
        if (visited.has(up)) continue;
        visited.add(up);
        const target = active.get(up)!;
        const { condition, lookFurther } = edge(target);
        on.set(up, condition);
        if (lookFurther) visit(up);
      }
    };
    visit(name);
    result.set(name, { on: [...on].map(([step, condition]) => ({ step, condition })), root, after: [] });
  }
  return result;
}

/** Every running, non-detached step upstream of `name`, through detached ones. */
function ancestors(name: string, resolved: (name: string) => string[], active: ReadonlyMap<string, OrderedStep>): string[] {
  const out = new Set<string>();
  const seen = new Set<string>();
  const visit = (of: string) => {
    for (const up of resolved(of)) {
      if (seen.has(up)) continue;
      seen.add(up);
      if (!active.get(up)!.step.detach) out.add(up);
      visit(up);
    }
  };
  visit(name);
  return [...out];
}

/** How a plain step waits on one upstream step. */
function edge(up: OrderedStep): { condition: DependencyCondition; lookFurther: boolean } {
  if (up.step.detach) return { condition: up.step.ready?.command ? 'HEALTHY' : 'START', lookFurther: true };
  if (up.kind === 'failure-only') return { condition: 'COMPLETE', lookFurther: true };
  if (up.step.failure === 'ignore') return { condition: 'COMPLETE', lookFurther: true };
  return { condition: 'SUCCESS', lookFurther: up.kind === 'always' };
}

/** Drone's status rule (statusMatches) → how the step is ordered and gated; undefined: never runs. */
export function stepKind(step: Step): StepKind | undefined {
  const onSuccess = statusMatches(step.when.status, 'success');
  const onFailure = statusMatches(step.when.status, 'failure');
  if (onSuccess && onFailure) return 'always';
  if (onFailure) return 'failure-only';
  if (onSuccess) return 'plain';
  return undefined;
}
