// The control plane's decisions about a split stage's service task (docs/design/split-pipelines.md,
// "Services and detached steps across the cut"), as pure functions for the autoscaler: what a
// segment starts with, and when a segment must be stopped because its services are gone.
// They read the service task as DescribeTasks shows it now, never an event: ECS delivers task
// state change events at least once and not in the order they happened
// (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_cwet_handling.html), so an
// event only asks for a look (the task-events handler nudges the autoscaler).

import { isStageDone } from './status.js';
import type { Stage } from './types.js';

/** What DescribeTasks shows of the service task, in the fields the decisions read. */
export interface ServiceTaskView {
  lastStatus?: string;
  desiredStatus?: string;
  stoppedReason?: string;
  stopCode?: string;
  /** Its private IP, once ECS shows one (service-task.ts privateIp). */
  address?: string;
}

export type ServiceTaskPhase =
  /** Running: its address is known (or ECS shows none, which is an error of its own). */
  | { kind: 'running'; address: string | undefined }
  /** Started, not running yet (provisioning, pulling, its containers starting). */
  | { kind: 'starting'; status: string }
  /** Stopped or stopping, or unknown to ECS: its services are gone for good. */
  | { kind: 'gone'; why: string };

/** The phase of the service task `arn`: `task` as DescribeTasks returned it, undefined when ECS no longer knows it (`failure`: its failures[] reason). */
export function serviceTaskPhase(arn: string, task: ServiceTaskView | undefined, failure?: string): ServiceTaskPhase {
  if (!task) return { kind: 'gone', why: `ECS no longer knows the service task ${arn} (${failure ?? 'MISSING'})` };
  if (task.lastStatus === 'STOPPED' || task.desiredStatus === 'STOPPED') {
    return { kind: 'gone', why: `the service task ${task.lastStatus === 'STOPPED' ? 'stopped' : 'is stopping'}: ${task.stoppedReason ?? task.stopCode ?? 'no reason given'}` };
  }
  if (task.lastStatus === 'RUNNING') return { kind: 'running', address: task.address };
  return { kind: 'starting', status: (task.lastStatus ?? 'PROVISIONING').toLowerCase() };
}

export type SegmentServices =
  /** Start the segment with the address in its overrides (SLIPWAY_SERVICES_HOST). */
  | { kind: 'host'; host: string }
  /**
   * Start the segment now, beside the starting service task: its agent clones, then reads the
   * address the service task's agent leaves (SLIPWAY_SERVICES_ADDRESS_IN) before its gate.
   */
  | { kind: 'read-address' }
  /** Not now: the next pass looks again. */
  | { kind: 'wait'; reason: string }
  /** The stage cannot go on. */
  | { kind: 'end'; message: string };

/**
 * What segment `segment` starts with, given its service task's phase. Only the first segment
 * starts beside a service task that is still starting: a later one follows a segment that ran
 * with the services, so a service task not running then is one that is not what it was.
 */
export function segmentServices(segment: number, phase: ServiceTaskPhase, isAddress: (host: string) => boolean): SegmentServices {
  if (phase.kind === 'gone') return { kind: 'end', message: `cannot start segment ${segment}: ${phase.why}` };
  if (phase.kind === 'running') {
    if (phase.address === undefined || !isAddress(phase.address)) {
      return { kind: 'end', message: `cannot start segment ${segment}: the service task runs but ECS shows no private IP address for it (${JSON.stringify(phase.address ?? null)})` };
    }
    return { kind: 'host', host: phase.address };
  }
  if (segment === 1) return { kind: 'read-address' };
  return { kind: 'wait', reason: `waiting: the task of its services is ${phase.status}` };
}

/**
 * A running segment whose service task is gone must stop: its steps would fail against services
 * that are not there, or its agent would wait for an address that never comes. Returns the task
 * to stop and the stage's message, or undefined when nothing is to be done: the stage is done;
 * it has no segment task now (the next segment's start sees the service task gone); or its
 * segment task is itself stopping or stopped (`segmentTask`: a cancel stops both, a segment
 * that ended is followed by its service task's stop), whose own stop event then decides.
 */
export function segmentToStop(
  stage: Pick<Stage, 'status' | 'taskArn' | 'serviceTaskArn' | 'segment' | 'segments'>,
  phase: ServiceTaskPhase,
  segmentTask: ServiceTaskView | undefined,
): { taskArn: string; message: string } | undefined {
  if (isStageDone(stage.status) || stage.taskArn === undefined || stage.serviceTaskArn === undefined || phase.kind !== 'gone') return undefined;
  if (segmentTask?.desiredStatus === 'STOPPED' || segmentTask?.lastStatus === 'STOPPED') return undefined;
  const segment = stage.segment ?? 1;
  return {
    taskArn: stage.taskArn,
    message: `the task of its services stopped while segment ${segment} of ${stage.segments ?? 1} ran, so Slipway stopped the segment: ${phase.why}`,
  };
}
