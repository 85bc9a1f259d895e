// The volumes each container mounts: the workspace and the state volumes of the contract,
// and the pipeline's own `volumes:` where a step asks for them.

import { ecsSafeName } from './container-names.js';
import { AGENT_STATE_DIR, AGENT_STATE_VOLUME, STATE_DIR, STATE_VOLUME, STEP_RECORD_DIR, STEP_RECORD_VOLUME_PREFIX, WORKSPACE_VOLUME, stepRecordDir, stepRecordVolume } from './contract.js';
import type { MountPoint } from './ecs-task.js';
import type { Pipeline, Position, Step } from './types.js';

/**
 * Who a container is, for what it may write: the agent writes its own state and every
 * step's records; a step (or the gate of a plugin step, `own` being that step) writes its
 * own records only and reads the others'; a service needs no records.
 */
export type MountRole = { agent: true; records: readonly string[] } | { own: string; records: readonly string[] } | { service: true };

/**
 * The agent alone may write AGENT_STATE_DIR (contract.ts): every other container reads it
 * only. Each step container's records are a volume of their own (STEP_RECORD_DIR/<c>),
 * writable only where `role` says (ECS MountPoint `readOnly`:
 * https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_MountPoint.html).
 */
export function baseMounts(pipeline: Pipeline, role: MountRole): MountPoint[] {
  const agent = 'agent' in role;
  const records = 'records' in role ? role.records : [];
  return [
    // Drone mounts the workspace volume at the base; the clone and the steps work in `path` under it.
    { sourceVolume: WORKSPACE_VOLUME, containerPath: pipeline.workspace.base, readOnly: false },
    { sourceVolume: STATE_VOLUME, containerPath: STATE_DIR, readOnly: false },
    { sourceVolume: AGENT_STATE_VOLUME, containerPath: AGENT_STATE_DIR, readOnly: !agent },
    ...records.map((c) => ({ sourceVolume: stepRecordVolume(c), containerPath: stepRecordDir(STEP_RECORD_DIR, c), readOnly: !(agent || ('own' in role && role.own === c)) })),
  ];
}

/** The pipeline volumes the steps mount (each mount once). */
export function stepMounts(steps: Step[], pipeline: Pipeline, fail: (pos: Position, message: string) => never): MountPoint[] {
  const seen = new Set<string>();
  const out: MountPoint[] = [];
  for (const step of steps) {
    for (const v of step.volumes) {
      const declared = pipeline.volumes.find((p) => p.name === v.name);
      if (!declared) fail(step.pos, `step "${step.name}" mounts volume "${v.name}", which the pipeline's volumes: does not declare`);
      const key = `${v.name}:${v.path}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ sourceVolume: volumeName(v.name), containerPath: v.path, readOnly: false });
    }
  }
  return out;
}

/** A pipeline volume's name in the task definition. */
export function volumeName(name: string): string {
  const safe = ecsSafeName(name, 'volume');
  // The task volumes of the contract keep their names.
  const reserved = safe === WORKSPACE_VOLUME || safe === STATE_VOLUME || safe === AGENT_STATE_VOLUME || safe.startsWith(STEP_RECORD_VOLUME_PREFIX);
  return reserved ? `user-${safe}` : safe;
}
