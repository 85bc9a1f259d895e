// The start model on EC2 capacity (issue 19, `node: { capacity: warm }`): push → first step
// of the EC2 form of a stage's task (core/pipeline/ec2-task.ts: host network, one build per
// instance), for an instance that runs idle, one started from the warm pool, or one launched,
// with the task's images cached on it or not. Pure, like start-model.ts, whose shape of the
// task (containers, services, first steps, the wrapper's poll) and control plane it reuses.
//
// What the code decides, and this model therefore reads (never a copy of a number):
// - the task definition: containers and their dependencies, the services' health check
//   intervals (the first check runs one interval after the container starts), the wrapper's poll;
// - the agent's gate: when it looks at the services again (its back-off, task-runner/backoff.ts);
// - the autoscaler's passes: how often the scheduled one runs, how long an unannounced stage is
//   left alone, whether the pass the planner nudges long-polls the jobs queue, and whether an
//   instance joining the cluster nudges a pass (Ec2PassProfile, read by control-plane-path.ts).

import type { Backoff } from '../../task-runner/backoff.js';
import { backoffDelay } from '../../task-runner/backoff.js';
import { AGENT_CONTAINER } from '../../core/pipeline/contract.js';
import { seededRandom } from '../../core/util/seeded-random.js';
import { CONTROL_PLANE, EC2, TASK } from './start-measurements.js';
import { drawer, lambdaSeconds, nextTick, percentile, sharedPulls, startCallSeconds, untilQueued, type ControlPlaneProfile, type ModelContainer, type StartShape } from './start-model.js';

/** Where the build's instance comes from. */
export type InstanceStart = 'running' | 'warm-pool' | 'launched';

/** What the autoscaler's code and the stack decide about its passes. */
export interface Ec2PassProfile {
  /** Seconds between scheduled passes (core/scaling/pass-schedule.ts). */
  scheduleSeconds: number;
  /** A queued stage no pass has read a message of is taken after this many seconds (autoscaler.ts, ANNOUNCE_GRACE_MS). */
  announceGraceSeconds: number;
  /** The first receive of the pass the planner nudges waits this long (0: a short poll, which may miss the message). */
  nudgedReceiveWaitSeconds: number;
  /** An instance that joins the cluster nudges a pass (lib/instance-registration-nudge.ts); otherwise the next scheduled pass finds it. */
  registrationNudges: boolean;
  /** When the agent's gate looks at the services again (task-runner/gate.ts). */
  gateBackoff: Backoff;
}

export interface Ec2Case {
  instance: InstanceStart;
  /** Every image of the task is on the instance (prefer-cached: no pull). */
  imagesCached: boolean;
}

export const EC2_STAGES = ['queued', 'pass takes it', 'instance ready', 'RunTask', 'containers started', 'clone', 'services ready', 'gate open', 'first step'] as const;
export type Ec2StageName = (typeof EC2_STAGES)[number];

export interface Ec2StartSample {
  total: number;
  /** When each stage ended, in seconds from push. */
  ends: Record<Ec2StageName, number>;
}

/** The first look at or after `at` of a loop that looks at `from`, then after each back-off delay. */
export function firstLookAtOrAfter(from: number, backoff: Backoff, at: number): number {
  let look = from;
  for (let attempt = 0; look < at; attempt += 1) look += backoffDelay(attempt, backoff) / 1000;
  return look;
}

/**
 * When a pass first takes the stage queued at `queuedAt`, the planner's nudge starting a pass
 * at `nudgedAt`. A short poll may miss the only message (EC2.shortPollMiss); the stage, not
 * announced, then waits for a scheduled pass once it has been queued announceGraceSeconds
 * (or for one that reads its message). Scheduled passes run at `phase` + k · scheduleSeconds.
 */
function passTakingIt(queuedAt: number, nudgedAt: number, phase: number, passes: Ec2PassProfile, random: () => number): number {
  const missed = () => random() < EC2.shortPollMiss.value;
  if (passes.nudgedReceiveWaitSeconds > 0 || !missed()) return nudgedAt;
  let pass = nextScheduled(nudgedAt, phase, passes.scheduleSeconds);
  // A scheduled pass short-polls too; past the grace the stage is taken without its message.
  while (pass - queuedAt < passes.announceGraceSeconds && missed()) pass = nextScheduled(pass + 1e-9, phase, passes.scheduleSeconds);
  return pass;
}

/** The first scheduled pass at or after `at`. */
function nextScheduled(at: number, phase: number, every: number): number {
  return phase + every * Math.max(0, Math.ceil((at - phase) / every));
}

/** One start on EC2 capacity, in seconds from push. */
export function sampleEc2Start(shape: StartShape, profile: ControlPlaneProfile, passes: Ec2PassProfile, c: Ec2Case, random: () => number): Ec2StartSample {
  const draw = drawer(random);
  const queued = untilQueued(profile, random);
  const phase = random() * passes.scheduleSeconds;
  const nudged = queued + lambdaSeconds(profile, random, 'autoscaler');
  const taken = passTakingIt(queued, nudged, phase, passes, random) + draw(EC2.fleetDescribe);

  // The instance: idle and registered already, or asked of the group in this pass.
  let ready = taken;
  let runTaskAt = taken;
  if (c.instance !== 'running') {
    const booted = taken + draw(EC2.groupReaction) + draw(c.instance === 'warm-pool' ? EC2.warmPoolStart : EC2.launch);
    ready = booted + draw(EC2.agentRegistration);
    // Its registration's event (EventBridge → the autoscaler), or the next scheduled pass.
    runTaskAt = passes.registrationNudges ? ready + draw(CONTROL_PLANE.eventToLambda) + lambdaSeconds(profile, random, 'autoscaler') : nextScheduled(ready, phase, passes.scheduleSeconds);
    runTaskAt += draw(EC2.fleetDescribe);
  }
  // The clone token of a private repository with a GitHub App, before RunTask (start-stage.ts).
  const placed = runTaskAt + startCallSeconds(profile, random, random() < profile.coldShare.autoscaler) + draw(CONTROL_PLANE.runTask) + draw(EC2.placement);

  // The containers: none waits for another on EC2's form (their images all pull at once).
  const byName = new Map(shape.containers.map((x) => [x.name, x]));
  const independent = shape.containers.filter((x) => x.dependsOn.length === 0);
  if (independent.length !== shape.containers.length) throw new Error('ec2 start model: a container waits for another; this model starts them all with the task');
  const hubSlowdown = draw(TASK.dockerHubSlowdown);
  const work = (x: ModelContainer) => x.megabytes * (x.registry === 'docker-hub' ? hubSlowdown : 1);
  const pulled = c.imagesCached
    ? independent.map(() => placed)
    : sharedPulls(independent.map((x) => ({ start: placed + draw(TASK.registryRoundTrip), work: work(x) })), draw(EC2.ecrMegabytesPerSecond));
  const running = new Map(independent.map((x, i) => [x.name, pulled[i]! + draw(EC2.containerStart)]));
  const containersStarted = Math.max(...running.values());

  const agentRunning = running.get(AGENT_CONTAINER);
  if (agentRunning === undefined) throw new Error(`ec2 start model: no ${AGENT_CONTAINER} container`);
  let cloned = agentRunning + draw(TASK.agentBoot);
  if (shape.clone !== 'disabled') cloned += draw(shape.clone === 'shallow' ? TASK.cloneShallow : TASK.cloneFull);
  let servicesReady = placed;
  for (const s of shape.services) {
    const started = running.get(s.container)!;
    const up = started + draw(s.postgres ? EC2.postgresBoot : TASK.serviceBoot);
    const interval = byName.get(s.container)!.healthInterval;
    servicesReady = Math.max(servicesReady, s.healthCommand && interval ? nextTick(started, interval, up) : up);
  }
  // The gate starts after the clone and looks again after each back-off delay.
  const gateOpen = firstLookAtOrAfter(cloned, passes.gateBackoff, servicesReady);

  // The first step's wrapper looks as it starts, then every wrapperPoll seconds.
  let firstStep = Number.POSITIVE_INFINITY;
  for (const name of shape.firstSteps) {
    const started = running.get(name)!;
    firstStep = Math.min(firstStep, started >= gateOpen ? started : started + shape.wrapperPoll * Math.ceil((gateOpen - started) / shape.wrapperPoll));
  }
  return {
    total: firstStep,
    ends: {
      queued,
      'pass takes it': taken,
      'instance ready': ready,
      RunTask: runTaskAt,
      'containers started': containersStarted,
      clone: cloned,
      'services ready': servicesReady,
      'gate open': gateOpen,
      'first step': firstStep,
    },
  };
}

export interface Ec2StartFigures {
  p50: number;
  p95: number;
  /** Median end of each stage, seconds from push. */
  stageP50: Record<Ec2StageName, number>;
}

/** `runs` starts of one case; the same seed gives the same figures. */
export function ec2StartFigures(shape: StartShape, profile: ControlPlaneProfile, passes: Ec2PassProfile, c: Ec2Case, runs = 20_000, seed = 19): Ec2StartFigures {
  const random = seededRandom(seed);
  const samples = Array.from({ length: runs }, () => sampleEc2Start(shape, profile, passes, c, random));
  const sorted = (f: (s: Ec2StartSample) => number) => samples.map(f).sort((a, b) => a - b);
  const totals = sorted((s) => s.total);
  const stageP50 = Object.fromEntries(EC2_STAGES.map((stage) => [stage, percentile(sorted((s) => s.ends[stage]), 50)])) as Record<Ec2StageName, number>;
  return { p50: percentile(totals, 50), p95: percentile(totals, 95), stageP50 };
}
