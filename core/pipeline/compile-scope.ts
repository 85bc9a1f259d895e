// What the container builders of one pipeline share while it compiles: the pipeline, the
// options, the secrets seen so far, and the units (a step, or steps packed together) that
// become step containers.

import type { CompileOptions } from './compile-options.js';
import type { PackUnit } from './pack.js';
import type { UpstreamEdge } from './script.js';
import type { Pipeline, Position } from './types.js';

/** One pipeline's compilation, as the container builders see it. */
export interface CompileScope {
  pipeline: Pipeline;
  options: CompileOptions;
  withSecrets: boolean;
  withheld: Set<string>;
  /** Secrets left out because the planner found they do not exist (`from_secret` names). */
  absent: Set<string>;
  /** The agent image for the pipeline's architecture (the agent and the gates run it). */
  agentImage: string;
  /** Secrets whose `kind: secret` document names a path outside the repository's prefix: name → why (left out). */
  refused: Map<string, string>;
  /** Where a secret's value lives; undefined when it is refused (recorded in `refused`). */
  secretRef: (secret: string) => string | undefined;
  hosts: string[];
  /** A segment of a split pipeline: `hosts` are at the service task's IP (SERVICES_HOST_FILE), not 127.0.0.1. */
  hostsRemote: boolean;
  fail: (pos: Position, message: string) => never;
  /** The structural DRONE_* variables of a plugin step (stage, workspace, system). */
  pluginEnv: Record<string, string>;
  /** Every step container, each with its own record volume (contract.ts, STEP_RECORD_DIR). */
  records: readonly string[];
  /** The detached step containers: an exit 78 of theirs skips nothing (script.ts). */
  detached: readonly string[];
}

/** A step container to be: its steps, its name, and for a status-conditional unit its gate and its wait. */
export interface Unit extends PackUnit {
  container: string;
  gate?: string;
  /** Status-conditional units: the containers whose end the wrapper (or gate) waits for. */
  waitFor?: string[];
  /** Plain units with commands: the steps they come after, waited for in their wrapper (script.ts). */
  upstream?: UpstreamEdge[];
  /** Its container (or its gate) names a step container in an ECS START: it writes `<container>.up` first (script.ts, upMarkerLines). */
  upMarker?: boolean;
  /** The step containers whose container (or gate) names this one in an ECS START: its wrapper waits for them to be up before it exits (script.ts, lingerLines). */
  startDependents?: string[];
}
