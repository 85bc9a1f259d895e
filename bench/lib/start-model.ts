// A model of a build's start, from `git push` to its first step's first command, replayed
// many times with stage times drawn from published measurements (start-measurements.ts).
// Pure: a compiled task definition and a control-plane profile in, figures out; the same
// seed gives the same figures.
//
// What the task definition decides, and this model therefore reads from it:
// - which images ECS pulls at once: a container's image is pulled only once its dependsOn
//   conditions hold, unless the agent pulls dependent containers up front, which it does
//   not by default (aws/amazon-ecs-agent agent/engine/dependencygraph/graph.go,
//   containerOrderingDependenciesIsResolved: only ECS_PULL_DEPENDENT_CONTAINERS_UPFRONT,
//   default false, lets a container reach PULLED before its dependencies are resolved);
//   containers with no dependency are pulled concurrently at task start;
// - where each image comes from (ECR in the Region, or Docker Hub) and so how fast;
// - the health-check intervals that gate HEALTHY (the first check runs one interval after
//   the container starts);
// - the agent's plan: clone depth, services and how the agent judges them, and whether the
//   first step waits for the agent in its wrapper (polling the setup record) or for ECS's
//   HEALTHY.

import { AGENT_CONTAINER, AGENT_ENV, type AgentPlan } from '../../core/pipeline/contract.js';
import type { ContainerDefinition, ContainerDependency } from '../../core/pipeline/ecs-task.js';
import { seededRandom } from '../../core/util/seeded-random.js';
import { AUTOSCALER_PASS_RATE_MINUTES } from '../../core/config/keep-warm.js';
import { CONTROL_PLANE, IMAGE_MEGABYTES, TASK, type Spread } from './start-measurements.js';
import { isConvertedImage } from '../../core/images/soci.js';
import { SETUP_POLL_SECONDS } from '../../core/pipeline/script.js';

export type Registry = 'ecr' | 'docker-hub';

export interface ModelContainer {
  name: string;
  image: string;
  megabytes: number;
  registry: Registry;
  dependsOn: ContainerDependency[];
  healthInterval?: number;
  /** Its image carries a SOCI index Fargate lazy-loads: the container starts once part of the image is fetched. */
  lazy?: boolean;
  /** Its layers are zstd, not gzip: less to download and faster to extract (TASK.zstdPullShare). */
  zstd?: boolean;
}

/** What of the images the task definition does not say: their sizes and their SOCI indexes. */
export interface ImageAssumptions {
  /** Compressed megabytes by repository name (`slipway-agent`, `node`), over IMAGE_MEGABYTES. */
  megabytes?: Readonly<Record<string, number>>;
  /**
   * Images in ECR of at least TASK.sociMinMegabytes carry a SOCI index. Fargate lazy-loads only
   * from private ECR (https://github.com/aws/containers-roadmap/issues/2077), so images pulled
   * from Docker Hub stay whole.
   */
  soci?: boolean;
  /**
   * Images in ECR that are not lazy-loaded are zstd copies (model only: Slipway makes none). A
   * lazy-loaded image keeps gzip: soci-snapshotter builds a zTOC for gzip layers only
   * (github.com/awslabs/soci-snapshotter/issues/519, open), so the two exclude each other.
   */
  zstd?: boolean;
}

/** What of a task definition decides how the task starts. */
export interface StartShape {
  containers: ModelContainer[];
  clone: 'disabled' | 'full' | 'shallow';
  services: { container: string; healthCommand: boolean; postgres: boolean }[];
  /** The step containers that start the pipeline (no step before them). */
  firstSteps: string[];
  /** Seconds between two looks of a step's wrapper at the agent's setup record. */
  wrapperPoll: number;
  /** A bound's scaling of the task's pull rate (BOUNDS in start-measurements.ts); 1 when absent. */
  pullRateFactor?: number;
  /** The other steps (not detached, no status condition) and the steps they come after (the agent's plan). */
  laterSteps: { container: string; after: string[] }[];
  /** When set, each step's commands run this long and the sample gives the build's end too (model only). */
  stepSeconds?: number;
}

/** The functions on the path from the webhook to RunTask, in order. */
export type PathFunction = 'webhook' | 'planner' | 'autoscaler';

/**
 * How a function's instance finds the repository of a push: new (`cold`), warm with the tokens
 * of its last push still good (`warm`), or warm with them too old to use (`refreshed`).
 */
export type InstanceState = 'cold' | 'warm' | 'refreshed';

/** Calls before RunTask of one stage: to the Git host, and clone-token writes to SSM. */
export interface StartCalls {
  gitHost: number;
  ssmWrites: number;
}

/** The Git host calls on the path from the webhook to RunTask, for a private repository with a GitHub App (git-host-calls.ts reads them). */
export interface GitHostPath {
  /** Calls the planner waits for before it nudges the autoscaler (the pipeline file, and the App token it is read with). */
  planner: Record<InstanceState, number>;
  /** Calls the autoscaler waits for before RunTask of the stage (its clone token). */
  autoscaler: Record<InstanceState, StartCalls>;
}

/**
 * The same path before issue 18's token work, from that code: the planner kept its API token
 * for the hour but no installation id (a new token: the installation, then the token, then the
 * file); the autoscaler minted every clone token (the installation, then the token) and wrote it.
 */
export const GIT_HOST_PATH_BEFORE: GitHostPath = {
  planner: { cold: 3, warm: 1, refreshed: 3 },
  autoscaler: { cold: { gitHost: 2, ssmWrites: 1 }, warm: { gitHost: 2, ssmWrites: 1 }, refreshed: { gitHost: 2, ssmWrites: 1 } },
};

/**
 * The path as git-host-calls.ts measured it while installation ids were kept only in each Lambda
 * instance's memory: a new instance looked the installation up again (the planner: the
 * installation, the token, the file; the autoscaler: the installation, the token).
 */
export const GIT_HOST_PATH_INSTANCE_ONLY: GitHostPath = {
  planner: { cold: 3, warm: 1, refreshed: 2 },
  autoscaler: { cold: { gitHost: 2, ssmWrites: 1 }, warm: { gitHost: 0, ssmWrites: 0 }, refreshed: { gitHost: 1, ssmWrites: 1 } },
};

/** The control plane's path from the webhook to RunTask. */
export interface ControlPlaneProfile {
  /** The pending commit status is posted before the stage is queued (before), or beside it. */
  statusOnPath: boolean;
  /** Share of pushes that meet each function cold (0: kept warm). */
  coldShare: Record<PathFunction, number>;
  /** Git host calls and clone-token writes the path waits for, by instance state. */
  gitHost: GitHostPath;
}

/** A function's cold share from how often a schedule invokes it (undefined: only pushes do). */
export function coldShareOf(scheduledEveryMinutes: number | undefined): number {
  return scheduledEveryMinutes !== undefined && scheduledEveryMinutes <= CONTROL_PLANE.environmentKeptIdleMinutes.value ? 0 : CONTROL_PLANE.coldShare.value;
}

/**
 * Before issue 18's control-plane changes: the status before the queue, the webhook and the
 * planner invoked only by pushes, the autoscaler every AUTOSCALER_PASS_RATE_MINUTES by its schedule.
 */
export const TODAY_CONTROL_PLANE: ControlPlaneProfile = {
  statusOnPath: true,
  coldShare: { webhook: coldShareOf(undefined), planner: coldShareOf(undefined), autoscaler: coldShareOf(AUTOSCALER_PASS_RATE_MINUTES) },
  gitHost: GIT_HOST_PATH_BEFORE,
};

export const STAGES = ['control plane', 'provisioning', 'pulls', 'clone', 'services ready', 'first step'] as const;
export type StageName = (typeof STAGES)[number];

export interface StartSample {
  /** Seconds from push to the first command of the first step. */
  total: number;
  /** When each stage ended, in seconds from push. */
  ends: Record<StageName, number>;
  /** The last step's end, seconds from push (with StartShape.stepSeconds). */
  buildEnd?: number;
}

/** A Docker Hub image as written in a pipeline, or ECR (a private registry, or the pull-through cache). */
export function registryOf(image: string): Registry {
  const first = image.split('/')[0]!;
  return /\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/.test(first) ? 'ecr' : 'docker-hub';
}

/** The image's repository name without registry, namespace or tag: `node`, `postgres`. */
export function repositoryName(image: string): string {
  const withoutDigest = image.split('@')[0]!;
  const last = withoutDigest.split('/').pop()!;
  return last.split(':')[0]!;
}

export function megabytesOf(image: string, overrides: Readonly<Record<string, number>> = {}): number {
  const name = repositoryName(image);
  return overrides[name] ?? (IMAGE_MEGABYTES[name] ?? IMAGE_MEGABYTES.unknown!).mb;
}

/** The shape of a task's start, read from its container definitions (and the agent's plan in them). */
export function startShape(containerDefinitions: readonly ContainerDefinition[], images: ImageAssumptions = {}): StartShape {
  const agent = containerDefinitions.find((c) => c.name === AGENT_CONTAINER);
  const planJson = agent?.environment?.find((e) => e.name === AGENT_ENV.plan)?.value;
  if (!planJson) throw new Error(`start model: the task definition has no ${AGENT_CONTAINER} container with ${AGENT_ENV.plan}`);
  const plan = JSON.parse(planJson) as AgentPlan;
  const steps = new Set(plan.steps.map((s) => s.container));
  // A later step of a segment may depend on a step of an earlier one (its record, not its container).
  const firstSteps = plan.steps.filter((s) => !s.detach && !s.whenStatus && s.dependsOn.every((d) => !steps.has(d))).map((s) => s.container);
  if (firstSteps.length === 0) throw new Error('start model: the plan has no step that starts the pipeline');
  const imageOf = new Map(containerDefinitions.map((c) => [c.name, c.image]));
  return {
    containers: containerDefinitions.map((c) => {
      // A SOCI-enabled copy the planner named (core/images/soci.ts) is lazy-loaded; `images.soci`
      // assumes one for every large image in ECR (what the design was modelled with).
      const lazy = isConvertedImage(c.image) || (images.soci === true && registryOf(c.image) === 'ecr' && megabytesOf(c.image, images.megabytes ?? {}) >= TASK.sociMinMegabytes.value);
      return {
        name: c.name,
        image: c.image,
        megabytes: megabytesOf(c.image, images.megabytes ?? {}),
        registry: registryOf(c.image),
        ...(lazy ? { lazy: true } : {}),
        ...(images.zstd && !lazy && registryOf(c.image) === 'ecr' ? { zstd: true } : {}),
        dependsOn: c.dependsOn ?? [],
        ...(c.healthCheck?.interval ? { healthInterval: c.healthCheck.interval } : {}),
      };
    }),
    clone: plan.clone.disable ? 'disabled' : plan.clone.depth !== undefined && plan.clone.depth > 0 ? 'shallow' : 'full',
    // A segment of a split pipeline asks the service task for its services (AgentPlan.remoteServices): none here.
    services: plan.remoteServices ? [] : plan.services.map((s) => ({ container: s.container, healthCommand: s.healthCommand, postgres: repositoryName(imageOf.get(s.container) ?? '') === 'postgres' })),
    firstSteps,
    wrapperPoll: wrapperPollOf(containerDefinitions, firstSteps),
    laterSteps: plan.steps
      .filter((s) => !s.detach && !s.whenStatus && !firstSteps.includes(s.container))
      .map((s) => ({ container: s.container, after: s.dependsOn.filter((d) => steps.has(d)) })),
  };
}

/**
 * Seconds between two looks of a first step's wrapper at the agent's setup record, read from
 * its compiled command (core/pipeline/script.ts, setupWaitLines: `sleep "${SLIPWAY_WAIT_SECONDS:-N}"`);
 * 1 when no first step waits in its wrapper (they wait for ECS's HEALTHY instead).
 */
export function wrapperPollOf(containerDefinitions: readonly ContainerDefinition[], firstSteps: readonly string[]): number {
  for (const name of firstSteps) {
    const command = containerDefinitions.find((c) => c.name === name)?.command?.join('\n') ?? '';
    const wait = /until \[ -s [^\n]*; do sleep "\$\{SLIPWAY_WAIT_SECONDS:-([0-9.]+)\}"[^\n]*; done/.exec(command);
    if (wait) return Number(wait[1]);
  }
  return 1;
}

/** Draws from a log-normal with the given median and 95th percentile. */
export function drawer(random: () => number): (s: Spread | { p50: number; p95: number }) => number {
  return (s) => {
    const u1 = Math.max(random(), Number.EPSILON);
    const u2 = random();
    const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    const sigma = Math.abs(Math.log(s.p95) - Math.log(s.p50)) / 1.645;
    // A rate's p95 is its slow end (smaller): the sign follows the spread's direction.
    return Math.exp(Math.log(s.p50) + Math.sign(s.p95 - s.p50 || 1) * sigma * z);
  };
}

/** The first time at or after `at` that a check every `interval` from `from` (first at from + interval) sees it. */
export function nextTick(from: number, interval: number, at: number): number {
  return from + interval * Math.max(1, Math.ceil((at - from) / interval));
}

/**
 * When each pull ends, the pulls under way sharing `rate` (MB/s) equally (processor sharing):
 * a Fargate task has one network interface and its vCPUs extract every layer.
 */
export function sharedPulls(pulls: readonly { start: number; work: number }[], rate: number): number[] {
  const left = pulls.map((p) => p.work);
  const end = pulls.map(() => Number.NaN);
  let now = Math.min(...pulls.map((p) => p.start));
  for (;;) {
    const active = pulls.map((_, i) => i).filter((i) => Number.isNaN(end[i]!) && pulls[i]!.start <= now);
    const waiting = pulls.map((p, i) => (Number.isNaN(end[i]!) && p.start > now ? p.start : Number.POSITIVE_INFINITY));
    const nextStart = Math.min(...waiting);
    if (active.length === 0) {
      if (nextStart === Number.POSITIVE_INFINITY) return end;
      now = nextStart;
      continue;
    }
    const share = rate / active.length;
    const times = active.map((i) => left[i]! / share);
    const first = Math.min(...times);
    const step = Math.min(first, nextStart - now);
    active.forEach((i, k) => {
      // The pulls that finish in this step end exactly at its end (no rounding left over).
      if (step === first && times[k] === first) {
        left[i] = 0;
        end[i] = now + step;
      } else {
        left[i]! -= step * share;
      }
    });
    now += step;
  }
}

/** A Lambda invocation of the control plane: cold for `profile.coldShare[fn]` of them. */
export function lambdaSeconds(profile: ControlPlaneProfile, random: () => number, fn: PathFunction): number {
  return invocation(profile, random, fn).seconds;
}

function invocation(profile: ControlPlaneProfile, random: () => number, fn: PathFunction): { cold: boolean; seconds: number } {
  const draw = drawer(random);
  const cold = random() < profile.coldShare[fn];
  return { cold, seconds: cold ? draw(CONTROL_PLANE.lambdaCold) : draw(CONTROL_PLANE.lambdaWarm) };
}

/** A warm instance has the tokens of the repository's last push still good for a recent push only (CONTROL_PLANE.recentPushShare). */
function instanceState(cold: boolean, random: () => number): InstanceState {
  if (cold) return 'cold';
  return random() < CONTROL_PLANE.recentPushShare.value ? 'warm' : 'refreshed';
}

/** The autoscaler's calls before RunTask of a stage (its clone token), in seconds; `cold`: a new instance. */
export function startCallSeconds(profile: ControlPlaneProfile, random: () => number, cold: boolean): number {
  const draw = drawer(random);
  const calls = profile.gitHost.autoscaler[instanceState(cold, random)];
  let t = 0;
  for (let i = 0; i < calls.gitHost; i++) t += draw(CONTROL_PLANE.gitHostCall);
  for (let i = 0; i < calls.ssmWrites; i++) t += draw(CONTROL_PLANE.ssmWrite);
  return t;
}

/** One start, in seconds from push. */
export function sampleStart(shape: StartShape, profile: ControlPlaneProfile, random: () => number): StartSample {
  return sampleTaskStart(shape, controlPlaneSeconds(profile, random), random);
}

/** Push → RunTask: webhook → queue → planner (config, build, status, enqueue, nudge) → autoscaler (clone token) → RunTask. */
function controlPlaneSeconds(profile: ControlPlaneProfile, random: () => number): number {
  const draw = drawer(random);
  let t = untilQueued(profile, random);
  const autoscaler = invocation(profile, random, 'autoscaler'); // the nudged autoscaler
  t += autoscaler.seconds;
  t += startCallSeconds(profile, random, autoscaler.cold);
  t += draw(CONTROL_PLANE.runTask);
  return t;
}

/** Push → the stage queued and the autoscaler nudged: webhook → queue → planner (config, build, status, enqueue). */
export function untilQueued(profile: ControlPlaneProfile, random: () => number): number {
  const draw = drawer(random);
  let t = lambdaSeconds(profile, random, 'webhook');
  const planner = invocation(profile, random, 'planner');
  t += draw(CONTROL_PLANE.sqsToLambda) + planner.seconds;
  // The pipeline file at the commit, and the App token it is read with when the instance has none.
  const calls = profile.gitHost.planner[instanceState(planner.cold, random)];
  for (let i = 0; i < calls; i++) t += draw(CONTROL_PLANE.gitHostCall);
  t += draw(CONTROL_PLANE.dynamoWrite) * 2; // jobs, then the build
  if (profile.statusOnPath) t += draw(CONTROL_PLANE.gitHostCall); // pending status before the stage is queued
  t += draw(CONTROL_PLANE.dynamoWrite); // enqueue
  return t;
}

/**
 * A split pipeline's services, asked across tasks (AgentPlan.remoteServices): when the service
 * task's agent first says ready, and from when the segment's agent can ask it (it knows the address).
 */
export interface RemoteServices {
  readyAt: number;
  askableFrom: number;
}

/**
 * One task's start once RunTask was called at `controlPlane` seconds from push. With `remote`,
 * the agent's gate asks the service task instead of watching services of its own
 * (task-runner/services-ready.ts: asks backing off from 0.1 s to 2 s between questions).
 */
export function sampleTaskStart(shape: StartShape, controlPlane: number, random: () => number, remote?: RemoteServices): StartSample {
  const draw = drawer(random);
  const provisioned = controlPlane + draw(TASK.provisioning);
  const byName = new Map(shape.containers.map((c) => [c.name, c]));
  // One rate for the whole task, shared by the pulls under way (download and extraction).
  const rate = draw(TASK.ecrMegabytesPerSecond) * (shape.pullRateFactor ?? 1);
  const hubSlowdown = draw(TASK.dockerHubSlowdown);
  // A lazy-loaded image's container starts once the share of it that start-up reads is fetched;
  // the rest comes while the step runs, which this model (push → first command) leaves out.
  const lazyShare = shape.containers.some((c) => c.lazy) ? draw(TASK.sociFetchedShare) : 1;
  // Drawn only when some image is zstd, so that the figures of shapes without one stay as they were.
  const zstdShare = shape.containers.some((c) => c.zstd) ? draw(TASK.zstdPullShare) : 1;
  const work = (c: ModelContainer) => c.megabytes * (c.registry === 'docker-hub' ? hubSlowdown : 1) * (c.lazy ? lazyShare : 1) * (c.zstd ? zstdShare : 1);

  // Containers with no dependency: pulled at once (sharing the rate), started when pulled.
  const running = new Map<string, number>();
  const healthy = new Map<string, number>();
  const pulled = new Map<string, number>();
  const atOnce = shape.containers.filter((c) => c.dependsOn.length === 0);
  const waves = atOnce.map((c) => ({ start: provisioned + draw(TASK.registryRoundTrip), work: work(c) }));
  const finished = sharedPulls(waves, rate);
  const startDelay = new Map<string, number>();
  atOnce.forEach((c, i) => {
    startDelay.set(c.name, draw(TASK.containerStart));
    pulled.set(c.name, finished[i]!);
    running.set(c.name, finished[i]! + startDelay.get(c.name)!);
  });
  // The later steps' draws, taken here whatever holds them, so that task definitions that differ
  // only in how a later step is held are compared on the same draws.
  const laterDraws = new Map(
    shape.laterSteps.filter((l) => !running.has(l.container)).map((l) => [l.container, { roundTrip: draw(TASK.registryRoundTrip), start: draw(TASK.containerStart) }] as const),
  );
  // Later steps held by an ECS START on steps that start with the task: each pulls once those
  // have started, sharing the task's rate with the pulls still under way (a service's, say),
  // which it slows. Definition order puts a step after the ones it comes after.
  const held = shape.containers.filter((c) => c.dependsOn.length > 0 && c.dependsOn.every((d) => d.condition === 'START' && d.containerName !== AGENT_CONTAINER));
  const pulling = [...atOnce];
  for (const c of held) {
    const after = c.dependsOn.map((d) => running.get(d.containerName));
    if (after.some((t) => t === undefined)) continue;
    pulling.push(c);
    const drawn = laterDraws.get(c.name) ?? { roundTrip: draw(TASK.registryRoundTrip), start: draw(TASK.containerStart) };
    waves.push({ start: Math.max(...(after as number[])) + drawn.roundTrip, work: work(c) });
    startDelay.set(c.name, drawn.start);
    // A pull that starts later changes only the pulls still under way then: ends already used stand.
    sharedPulls(waves, rate).forEach((end, i) => {
      const name = pulling[i]!.name;
      pulled.set(name, end);
      running.set(name, end + startDelay.get(name)!);
    });
  }
  // The agent: boot, clone, then the service gate (task-runner/agent.ts, gate.ts).
  const agentRunning = running.get(AGENT_CONTAINER);
  if (agentRunning === undefined) throw new Error(`start model: ${AGENT_CONTAINER} must start with the task`);
  let cloned = agentRunning + draw(TASK.agentBoot);
  if (shape.clone !== 'disabled') cloned += draw(shape.clone === 'shallow' ? TASK.cloneShallow : TASK.cloneFull);
  let servicesReady = provisioned;
  for (const s of shape.services) {
    const c = byName.get(s.container)!;
    const started = running.get(c.name);
    if (started === undefined) throw new Error(`start model: service ${c.name} must start with the task`);
    const up = started + draw(s.postgres ? TASK.postgresBoot : TASK.serviceBoot);
    const seen = s.healthCommand && c.healthInterval ? nextTick(started, c.healthInterval, up) : up;
    if (c.healthInterval) healthy.set(c.name, seen);
    servicesReady = Math.max(servicesReady, seen);
  }
  if (remote) servicesReady = Math.max(servicesReady, remote.readyAt, remote.askableFrom);
  // The gate starts after the clone and looks at the services about once a second (across
  // tasks: its questions back off to one every 2 s).
  const lookEvery = remote ? TASK.remoteAsk.value : TASK.metadataPoll.value;
  const gateOpen = servicesReady <= cloned ? cloned : servicesReady + random() * lookEvery;
  const agent = byName.get(AGENT_CONTAINER)!;
  if (agent.healthInterval) healthy.set(AGENT_CONTAINER, nextTick(agentRunning, agent.healthInterval, gateOpen));

  // The first step: pulled once its dependencies hold (graph.go), started, then its commands
  // run at once (ECS waited for HEALTHY) or once its wrapper sees the setup record.
  let firstStep = Number.POSITIVE_INFINITY;
  // The first wave's pulls: a later step's, under way while the first step waits or runs, is not on its path.
  const heldNames = new Set(held.map((c) => c.name));
  let lastPull = Math.max(...[...pulled].filter(([n]) => !heldNames.has(n)).map(([, t]) => t));
  for (const name of shape.firstSteps) {
    const c = byName.get(name)!;
    const resolved = Math.max(
      provisioned,
      ...c.dependsOn.map((d) => {
        const at = d.condition === 'HEALTHY' ? healthy.get(d.containerName) : d.condition === 'START' ? running.get(d.containerName) : undefined;
        if (at === undefined) throw new Error(`start model: step ${name} waits for ${d.containerName} ${d.condition}, which this model cannot place before the first step`);
        return at;
      }),
    );
    // Alone by then unless a pull of the first wave is still under way.
    const pulledAt =
      pulled.get(name) ??
      sharedPulls([...atOnce.map((a) => ({ start: provisioned, work: work(a) })), { start: resolved + draw(TASK.registryRoundTrip), work: work(c) }], rate).at(-1)!;
    lastPull = Math.max(lastPull, pulledAt);
    const started = running.get(name) ?? pulledAt + draw(TASK.containerStart);
    const waitsForAgentHealthy = c.dependsOn.some((d) => d.containerName === AGENT_CONTAINER && d.condition === 'HEALTHY');
    // The wrapper looks as it starts, then every wrapperPoll seconds.
    const commands = waitsForAgentHealthy || started >= gateOpen ? started : started + shape.wrapperPoll * Math.ceil((gateOpen - started) / shape.wrapperPoll);
    firstStep = Math.min(firstStep, commands);
  }
  const ends = { 'control plane': controlPlane, provisioning: provisioned, pulls: lastPull, clone: cloned, 'services ready': servicesReady, 'first step': firstStep };
  if (shape.stepSeconds === undefined) return { total: firstStep, ends };
  return { total: firstStep, ends, buildEnd: buildEndOf(shape, shape.stepSeconds, firstStep, running, (c) => work(c) / rate, (name) => laterDraws.get(name) ?? { roundTrip: draw(TASK.registryRoundTrip), start: draw(TASK.containerStart) }) };
}

/**
 * The last step's end: the first steps' commands from `firstStep`, each later step's once the
 * steps before it have ended and its container runs. A container that started with the task or
 * on a START waits in its wrapper, which looks every SETUP_POLL_SECONDS (core/pipeline/script.ts);
 * one that ECS held on SUCCESS or COMPLETE is pulled only then, alone (the first wave is over).
 * An upstream named in a START keeps its container up until its dependents have started
 * (script.ts, lingerLines), which moves no step here: its end is its exit record's, and no
 * container ECS starts on its SUCCESS or COMPLETE is so held (compile.ts names no such upstream).
 */
function buildEndOf(
  shape: StartShape,
  stepSeconds: number,
  firstStep: number,
  running: ReadonlyMap<string, number>,
  pullSeconds: (c: ModelContainer) => number,
  drawn: (name: string) => { roundTrip: number; start: number },
): number {
  const byName = new Map(shape.containers.map((c) => [c.name, c]));
  const end = new Map(shape.firstSteps.map((n) => [n, firstStep + stepSeconds] as const));
  for (const later of shape.laterSteps) {
    const upstream = Math.max(firstStep, ...later.after.map((a) => end.get(a) ?? firstStep));
    const started = running.get(later.container);
    let commands: number;
    if (started === undefined) {
      const d = drawn(later.container);
      commands = upstream + d.roundTrip + pullSeconds(byName.get(later.container)!) + d.start;
    } else {
      commands = started >= upstream ? started : started + SETUP_POLL_SECONDS * Math.ceil((upstream - started) / SETUP_POLL_SECONDS);
    }
    end.set(later.container, commands + stepSeconds);
  }
  return Math.max(...end.values());
}

export interface StartFigures {
  p50: number;
  p95: number;
  /** Push → the build's end, median (with StartShape.stepSeconds). */
  buildEndP50?: number;
  /** Median end of each stage, seconds from push. */
  stageP50: Record<StageName, number>;
}

export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** `runs` starts of the same shape; the same seed gives the same figures. */
export function startFigures(shape: StartShape, profile: ControlPlaneProfile, runs = 20_000, seed = 18): StartFigures {
  const random = seededRandom(seed);
  const samples = Array.from({ length: runs }, () => sampleStart(shape, profile, random));
  const totals = samples.map((s) => s.total).sort((a, b) => a - b);
  const stageP50 = Object.fromEntries(
    STAGES.map((stage) => [stage, percentile(samples.map((s) => s.ends[stage]).sort((a, b) => a - b), 50)]),
  ) as Record<StageName, number>;
  const buildEnds = samples.flatMap((s) => (s.buildEnd === undefined ? [] : [s.buildEnd])).sort((a, b) => a - b);
  return { p50: percentile(totals, 50), p95: percentile(totals, 95), stageP50, ...(buildEnds.length > 0 ? { buildEndP50: percentile(buildEnds, 50) } : {}) };
}

/** A split pipeline's service task (docs/design/split-pipelines.md): its containers and the services its agent waits for. */
export interface ServiceTaskShape {
  containers: ModelContainer[];
  services: StartShape['services'];
}

/** The service task's shape, from its container definitions (its agent's plan has `role: 'services'`). */
export function serviceTaskShape(containerDefinitions: readonly ContainerDefinition[]): ServiceTaskShape {
  const agent = containerDefinitions.find((c) => c.name === AGENT_CONTAINER);
  const planJson = agent?.environment?.find((e) => e.name === AGENT_ENV.plan)?.value;
  if (!planJson) throw new Error(`start model: the service task has no ${AGENT_CONTAINER} container with ${AGENT_ENV.plan}`);
  const plan = JSON.parse(planJson) as AgentPlan;
  if (plan.role !== 'services') throw new Error('start model: this is not a service task (its agent plan has no role "services")');
  const imageOf = new Map(containerDefinitions.map((c) => [c.name, c.image]));
  return {
    containers: containerDefinitions.map((c) => ({
      name: c.name,
      image: c.image,
      megabytes: megabytesOf(c.image, {}),
      registry: registryOf(c.image),
      dependsOn: c.dependsOn ?? [],
      ...(c.healthCheck?.interval ? { healthInterval: c.healthCheck.interval } : {}),
    })),
    services: plan.services.map((s) => ({ container: s.container, healthCommand: s.healthCommand, postgres: repositoryName(imageOf.get(s.container) ?? '') === 'postgres' })),
  };
}

export interface ServiceTaskSample {
  /** Its network interface is attached and has its address (the end of PROVISIONING). */
  addressAt: number;
  /** Every container started: the task is RUNNING (ECS's lastStatus is the minimum of its containers'). */
  runningAt: number;
  /** Its agent has booted: it can tell its address to whoever asks where it is. */
  agentAt: number;
  /** Its agent answers "ready": every service up (and healthy, where it has a health command). */
  readyAt: number;
}

/** One start of a service task whose RunTask was called at `runTaskAt`. */
export function sampleServiceTask(shape: ServiceTaskShape, runTaskAt: number, random: () => number): ServiceTaskSample {
  const draw = drawer(random);
  const addressAt = runTaskAt + draw(TASK.provisioning);
  const rate = draw(TASK.ecrMegabytesPerSecond);
  const hubSlowdown = draw(TASK.dockerHubSlowdown);
  // All its containers start with the task (services, detached steps, the agent): pulled at once.
  const pulled = sharedPulls(
    shape.containers.map((c) => ({ start: addressAt + draw(TASK.registryRoundTrip), work: c.megabytes * (c.registry === 'docker-hub' ? hubSlowdown : 1) })),
    rate,
  );
  const started = new Map(shape.containers.map((c, i) => [c.name, pulled[i]! + draw(TASK.containerStart)]));
  const runningAt = Math.max(...started.values());
  const agentAt = started.get(AGENT_CONTAINER)! + draw(TASK.agentBoot);
  let ready = agentAt;
  for (const s of shape.services) {
    const c = shape.containers.find((x) => x.name === s.container)!;
    const at = started.get(c.name)!;
    const up = at + draw(s.postgres ? TASK.postgresBoot : TASK.serviceBoot);
    ready = Math.max(ready, s.healthCommand && c.healthInterval ? nextTick(at, c.healthInterval, up) : up);
  }
  return { addressAt, runningAt, agentAt, readyAt: ready + random() * TASK.metadataPoll.value };
}

/**
 * When the first segment of a split pipeline with services is started:
 * - `together` (as built): both RunTasks in one pass; the service task's agent, once booted,
 *   PUTs its address (task metadata) to S3, and the segment's agent, polling a GET of it after its
 *   clone, learns it at its next read (task-runner/services-address.ts);
 * - `after-running` (built before): once a pass sees the service task RUNNING, with its address in
 *   the segment's override (its RUNNING event, the task-events Lambda's nudge, the autoscaler's
 *   DescribeTasks, then RunTask);
 * - `at-address`: the same, as soon as DescribeTasks shows the service task's address (its
 *   network interface attached, while its images are still pulled), if ECS shows it that early.
 */
export type SplitStartMode = 'after-running' | 'at-address' | 'together';

export interface SplitStartSample extends StartSample {
  service: ServiceTaskSample;
  /** When the segment's RunTask was called, seconds from push. */
  segmentRunTask: number;
}

/** One start of a split pipeline with services: push → the first command of segment 1's first step. */
export function sampleSplitStart(segment: StartShape, service: ServiceTaskShape, profile: ControlPlaneProfile, mode: SplitStartMode, random: () => number): SplitStartSample {
  const draw = drawer(random);
  const controlPlane = controlPlaneSeconds(profile, random);
  const svc = sampleServiceTask(service, controlPlane, random);
  // A task state change → EventBridge → the task-events Lambda → its nudge → the autoscaler's
  // pass, which describes the service task, then RunTask of the segment.
  const reaction = () => draw(CONTROL_PLANE.eventToLambda) + lambdaSeconds(profile, random, 'autoscaler') + lambdaSeconds(profile, random, 'autoscaler') + draw(CONTROL_PLANE.runTask) + draw(CONTROL_PLANE.runTask);
  const segmentRunTask =
    mode === 'after-running' ? svc.runningAt + reaction() : mode === 'at-address' ? svc.addressAt + reaction() : controlPlane + draw(CONTROL_PLANE.runTask);
  // Left by the service task's agent (an S3 PUT), seen at the segment's next read (a GET).
  const askableFrom = mode === 'together' ? svc.agentAt + draw(TASK.s3Request) + random() * TASK.addressPoll.value + draw(TASK.s3Request) : segmentRunTask;
  const start = sampleTaskStart(segment, segmentRunTask, random, { readyAt: svc.readyAt, askableFrom });
  return { ...start, service: svc, segmentRunTask };
}

export interface SplitStartFigures {
  p50: number;
  p95: number;
  /** Medians, seconds from push: the service task RUNNING and ready, the segment's RunTask. */
  serviceRunningP50: number;
  serviceReadyP50: number;
  segmentRunTaskP50: number;
}

/** `runs` starts of one split pipeline in one mode; the same seed gives the same figures. */
export function splitStartFigures(segment: StartShape, service: ServiceTaskShape, profile: ControlPlaneProfile, mode: SplitStartMode, runs = 20_000, seed = 18): SplitStartFigures {
  const random = seededRandom(seed);
  const samples = Array.from({ length: runs }, () => sampleSplitStart(segment, service, profile, mode, random));
  const sorted = (f: (s: SplitStartSample) => number) => samples.map(f).sort((a, b) => a - b);
  const totals = sorted((s) => s.total);
  return {
    p50: percentile(totals, 50),
    p95: percentile(totals, 95),
    serviceRunningP50: percentile(sorted((s) => s.service.runningAt), 50),
    serviceReadyP50: percentile(sorted((s) => s.service.readyAt), 50),
    segmentRunTaskP50: percentile(sorted((s) => s.segmentRunTask), 50),
  };
}
