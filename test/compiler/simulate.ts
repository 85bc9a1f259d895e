// A small model of how ECS starts the containers of one task from their `dependsOn`
// (START, COMPLETE, SUCCESS, HEALTHY), running each step's real generated script under
// /bin/sh, so tests can check what runs after a failure. Services and plugin steps do
// not run here: they count as started, healthy and exiting 0.
import { spawnSync } from 'node:child_process';
import type { ContainerDefinition } from '@aws-sdk/client-ecs';
import type { CompiledStage } from '../../core/pipeline/compile.js';

export interface Outcome {
  /** Containers that ran, in order, with their exit code. */
  ran: { name: string; exit: number; stdout: string }[];
  /** Containers that never started because a dependency could not be met. */
  blocked: string[];
}

export function simulate(stage: CompiledStage, env: Record<string, string>): Outcome {
  const defs = stage.taskDefinition.containerDefinitions!;
  const state = new Map<string, { exit?: number; blocked?: boolean }>();
  const ran: Outcome['ran'] = [];
  const blocked: string[] = [];
  const essential = defs.find((d) => d.essential)!.name!;
  state.set(essential, {}); // the agent: running and healthy throughout
  for (let progress = true; progress; ) {
    progress = false;
    for (const def of defs) {
      const name = def.name!;
      if (state.has(name)) continue;
      const verdict = resolve(def, state);
      if (verdict === 'wait') continue;
      progress = true;
      if (verdict === 'blocked') {
        state.set(name, { blocked: true });
        blocked.push(name);
        continue;
      }
      const exit = run(def, env);
      state.set(name, { exit: exit.status });
      ran.push({ name, exit: exit.status, stdout: exit.stdout });
    }
  }
  return { ran, blocked };
}

function resolve(def: ContainerDefinition, state: Map<string, { exit?: number; blocked?: boolean }>): 'go' | 'wait' | 'blocked' {
  for (const dep of def.dependsOn ?? []) {
    const target = state.get(dep.containerName!);
    if (!target) return 'wait';
    const stopped = target.blocked || target.exit !== undefined;
    switch (dep.condition) {
      case 'START':
      case 'HEALTHY':
        if (target.blocked) return 'blocked';
        break;
      case 'COMPLETE':
        if (!stopped) return 'wait';
        break;
      case 'SUCCESS':
        if (!stopped) return 'wait';
        if (target.blocked || target.exit !== 0) return 'blocked';
        break;
    }
  }
  return 'go';
}

function run(def: ContainerDefinition, env: Record<string, string>): { status: number; stdout: string } {
  if (!def.command || def.entryPoint?.[1] !== '-c') return { status: 0, stdout: '' };
  const result = spawnSync('/bin/sh', ['-c', def.command[0]!], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8', timeout: 10_000 });
  return { status: result.status ?? -1, stdout: result.stdout };
}
