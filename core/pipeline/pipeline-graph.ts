// The pipelines a stage waits for, through the pipelines that do not run. One rule for every
// reason a pipeline does not run — its trigger does not match the build, or it is for another
// runner (`type: exec`, `vm`, …) or a platform Fargate cannot serve (32-bit `arm`, Windows);
// Drone skips only by trigger (it waits for a runner of another type), so applying the rule to
// the others is Slipway's choice: no runner of theirs will come. The rule is the one Drone
// applies to trigger-skipped pipelines when it creates a build's stages (drone/drone trigger/trigger.go:
// "stage.DependsOn = dag.Dependencies(stage.Name) … if the stage is pending dependencies, but
// those dependencies are skipped, the stage can be executed immediately"), with
// harness/harness trigger/dag/dag.go `dependencies`: a skipped pipeline's own dependencies
// take its place, transitively, and a name that is no pipeline at all drops out. The compiler
// writes each stage's `dependsOn` with it; the control plane's run-time rule
// (core/builds/status.ts dependencyVerdict) then sees only stages of the build.

/** One pipeline of a file as the graph sees it. */
export interface PipelineVertex {
  name: string;
  dependsOn: readonly string[];
  /** Why it does not run in this build (its trigger, its type, its platform); absent when it runs. */
  skipped?: string;
}

/** A dependency that does not run, and what its dependent waits for instead. */
export interface SkippedDependency {
  name: string;
  reason: string;
  /** The running pipelines it hands down (its own dependencies, through skipped ones too). */
  inherited: string[];
}

export interface StageDependencies {
  /** The running pipelines the stage waits for, in the order the file names them, once each. */
  dependsOn: string[];
  /** Its direct dependencies that do not run, in the order it names them. */
  skipped: SkippedDependency[];
}

/**
 * The graph of a file's pipelines, first of each name (a repeated name is lint's error).
 * `dependenciesOf(name)` answers for any pipeline of it.
 */
export function pipelineGraph(vertices: readonly PipelineVertex[]): { dependenciesOf: (name: string) => StageDependencies } {
  const byName = new Map<string, PipelineVertex>();
  for (const v of vertices) if (!byName.has(v.name)) byName.set(v.name, v);

  /** What `name` stands for as a dependency: itself when it runs, else what it waits for. */
  const through = (name: string, seen: Set<string>): string[] => {
    const vertex = byName.get(name);
    if (!vertex) return [];
    if (vertex.skipped === undefined) return [name];
    // A cycle through skipped pipelines is lint's error; here it only must not loop.
    if (seen.has(name)) return [];
    seen.add(name);
    return vertex.dependsOn.flatMap((dep) => through(dep, seen));
  };

  return {
    dependenciesOf(name) {
      const vertex = byName.get(name);
      const dependsOn = new Set<string>();
      const skipped: SkippedDependency[] = [];
      for (const dep of vertex?.dependsOn ?? []) {
        const target = byName.get(dep);
        const inherited = through(dep, new Set([name])).filter((n) => n !== name);
        for (const n of inherited) dependsOn.add(n);
        if (target?.skipped !== undefined && !skipped.some((s) => s.name === dep)) {
          skipped.push({ name: dep, reason: target.skipped, inherited: [...new Set(inherited)] });
        }
      }
      return { dependsOn: [...dependsOn], skipped };
    },
  };
}

/**
 * The stage note for the skipped dependencies of a stage: each one named with why it does not
 * run and what the stage waits for instead; undefined when none is skipped.
 */
export function skippedDependencyNote(deps: StageDependencies): string | undefined {
  if (deps.skipped.length === 0) return undefined;
  const each = deps.skipped.map((s) => {
    const instead = s.inherited.length > 0 ? `; waits for what it waits for: ${s.inherited.map((n) => `"${n}"`).join(', ')}` : '';
    return `"${s.name}" is skipped (${s.reason})${instead}`;
  });
  const start = deps.dependsOn.length === 0 ? '; with nothing left to wait for, this stage starts with the build' : '';
  return `depends_on: ${each.join('; ')} — a skipped pipeline is dropped from the graph, as in Drone${start}`;
}
