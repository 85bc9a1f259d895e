// The per-run build environment (DRONE_* / CI_*), written once into the state volume as
// `export NAME='value'` lines that every step's wrapper sources at start: the RunTask
// overrides stay small and the task definition stays the same for every run.

import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

import type { AgentPlan } from '../core/pipeline/contract.js';
import type { BuildContext } from '../core/pipeline/context.js';
import { buildEnvironment, shellExports, type StageEnvInput } from '../core/pipeline/environment.js';

/**
 * Without the plan's `stage`: the stage number is the last part of a stage id
 * (`owner/name#12/2` → 2), else 1.
 */
export function stageNumber(stageId: string): number {
  const match = /\/(\d+)$/.exec(stageId);
  return match ? Number(match[1]) : 1;
}

/** Fargate's platform is the agent's own: the task runs all containers on one architecture. */
function fargateArch(arch: string): string {
  return arch === 'x64' ? 'amd64' : arch;
}

export function stageEnvInput(plan: AgentPlan, stageId: string, arch = process.arch): StageEnvInput {
  return {
    name: plan.pipeline,
    number: plan.stage?.number ?? stageNumber(stageId),
    kind: 'pipeline',
    type: 'docker',
    os: 'linux',
    arch: fargateArch(arch),
    dependsOn: [...(plan.stage?.dependsOn ?? [])],
    workspace: plan.workspace,
    ...(plan.workspaceBase !== undefined ? { workspaceBase: plan.workspaceBase } : {}),
    skipVerify: plan.clone.skipVerify,
  };
}

/** The file's content: Drone's variables plus this run's stage id. */
export function envFileContent(plan: AgentPlan, ctx: BuildContext, stageId: string): string {
  const env = buildEnvironment(ctx, stageEnvInput(plan, stageId));
  if (stageId !== '') env['SLIPWAY_STAGE_ID'] = stageId;
  // A commit message, branch, title or author name comes from a push and may hold a NUL,
  // which no environment can (execve ends a variable there; shellExports refuses it). It
  // becomes U+FFFD, visibly, instead of failing the whole stage.
  for (const [name, value] of Object.entries(env)) if (value.includes('\0')) env[name] = value.replaceAll('\0', '\uFFFD');
  return shellExports(env);
}

/** Written to a temporary name and renamed, so a step never sources half a file. */
export async function writeEnvFile(path: string, content: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.tmp-${process.pid}`;
  await writeFile(temporary, content, { mode: 0o644 });
  await rename(temporary, path);
}
