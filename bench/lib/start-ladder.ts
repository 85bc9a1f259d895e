// The start model's figures for today's task definition and after each change, in order:
// each entry is a task definition compiled here (the planner's options for a deployment in
// eu-west-1) plus the control plane's profile, so that a compiler change moves its figure.

import { createHash } from 'node:crypto';
import { cliContext } from '../../cli/commands/compile.js';
import { convertedReference, indexDecision } from '../../core/images/soci.js';
import { parseImageReference } from '../../core/images/reference.js';
import { ENV } from '../../core/config/lambda-env.js';
import { compileManifest, type CompileOptions } from '../../core/pipeline/compile.js';
import type { ContainerDefinition, TaskDefinitionInput } from '../../core/pipeline/ecs-task.js';
import { substitutionLookup } from '../../core/pipeline/environment.js';
import { isReadable, loadManifest } from '../../core/pipeline/load.js';
import { PULL_THROUGH_CACHE_RULES } from '../../core/pipeline/pull-through-cache.js';
import { buildCompileOptions, compileOptionsFromEnv, type BuildCompileInput } from '../../lambdas/planner/compile-options.js';
import { ec2StartFigures, type Ec2Case, type Ec2PassProfile, type Ec2StartFigures, type InstanceStart } from './ec2-start-model.js';
import { FIXTURE_ENV as DEPLOYMENT_ENV } from '../../test/compiler/support.js';
import { AGENT_IMAGE_BEFORE, BOUNDS, SMALLER_VARIANTS, TASK } from './start-measurements.js';
import { coldShareOf, megabytesOf, repositoryName, startFigures, startShape, TODAY_CONTROL_PLANE, type ControlPlaneProfile, type GitHostPath, type ImageAssumptions, type StartFigures, type StartShape } from './start-model.js';
import { KEEP_WARM_RATE_MINUTES, KEPT_WARM_FUNCTIONS } from '../../core/config/keep-warm.js';
import { DEFAULT_SETTINGS, type SlipwaySettings } from '../../lib/config.js';
import { deployedRules } from '../../lib/pull-through-cache.js';

/** Every rule the stack creates (lib/pull-through-cache.ts), each with its credentials given. */
const CACHE_RULES = Object.fromEntries(PULL_THROUGH_CACHE_RULES.map((r) => [r.domain, r.prefix]));

export interface LadderEntry {
  name: string;
  containerDefinitions: ContainerDefinition[];
  profile: ControlPlaneProfile;
  /** Image sizes and indexes the task definition does not show; default: today's images. */
  images?: ImageAssumptions;
  figures: StartFigures;
}

/** The first stage's containers of `yaml` as the planner would compile it, with `extra` options and env. */
export function compiledContainers(yaml: string, env: Record<string, string> = {}, extra: Partial<CompileOptions> = {}): ContainerDefinition[] {
  return compiledTask(yaml, env, extra).containerDefinitions;
}

/**
 * The containers of `yaml` as the planner compiles them once the converter has run for its
 * cached images (core/images/soci.ts): those the converter converts (indexDecision on the
 * model's image sizes, IMAGE_MEGABYTES) named by their SOCI-enabled copy, as
 * lambdas/planner/soci-images.ts names them from the second build of an image on.
 */
export function compiledWithSociCopies(yaml: string, env: Record<string, string>): ContainerDefinition[] {
  const cached = compiledContainers(yaml, env);
  const now = Date.UTC(2026, 11, 1);
  const converted = new Map<string, string>();
  for (const { image } of cached) {
    const parsed = parseImageReference(image);
    if (!parsed.ok || !Object.values(CACHE_RULES).some((p) => parsed.ref.repository.startsWith(`${p}/`))) continue;
    if (!indexDecision(megabytesOf(image) * 1e6).convert) continue;
    const source = `sha256:${createHash('sha256').update(image).digest('hex')}`;
    const copy = `sha256:${createHash('sha256').update(`soci ${image}`).digest('hex')}`;
    const reference = convertedReference(image, source, { state: 'converted', repository: parsed.ref.repository, convertedDigest: copy, convertedAt: now }, now);
    if (reference) converted.set(image, reference);
  }
  return compiledTask(yaml, env, {}, undefined, converted).containerDefinitions;
}

/** The first stage's task definition of `yaml` as the planner compiles it (for `repository`'s settings), with `extra` options and env. */
export function compiledTask(
  yaml: string,
  env: Record<string, string> = {},
  extra: Partial<CompileOptions> = {},
  repository?: BuildCompileInput['repository'],
  sociImages?: BuildCompileInput['sociImages'],
): TaskDefinitionInput {
  const context = cliContext({ repo: 'acme/app', commit: 'a'.repeat(40) });
  const manifest = loadManifest('.drone.yml', yaml, { substitute: substitutionLookup(context) });
  if (!isReadable(manifest)) throw new Error('start model: the pipeline does not load');
  const build = { repoSlug: 'acme/app', buildNumber: 1, fork: false, ...(repository ? { repository } : {}), ...(sociImages ? { sociImages } : {}) };
  const options = { ...buildCompileOptions(compileOptionsFromEnv({ ...DEPLOYMENT_ENV, ...env }), build), ...extra };
  const result = compileManifest(manifest, context, options);
  const stage = result.stages[0];
  if (!stage) throw new Error(`start model: the pipeline did not compile: ${JSON.stringify(result.errors)}`);
  return stage.taskDefinition;
}

/** The stack's EC2 capacity for amd64 (lib/ec2-capacity.ts describes it so to the planner, ENV.ec2Capacity). */
const EC2_CAPACITY_ENV = JSON.stringify({ amd64: { capacityProvider: 'slipway-ec2-amd64', autoScalingGroup: 'slipway-ec2-amd64' } });

/**
 * `yaml` with `node: { capacity: warm }` as the planner compiles it for a trusted repository
 * of a deployment with EC2 capacity and the pull-through cache (both as the stack sets them):
 * the EC2 form of its task (core/pipeline/ec2-task.ts).
 */
export function compiledWarm(yaml: string): TaskDefinitionInput {
  const warm = `${yaml.trimEnd()}\n\nnode:\n  capacity: warm\n`;
  return compiledTask(warm, { [ENV.ec2Capacity]: EC2_CAPACITY_ENV, [ENV.pullThroughCache]: JSON.stringify(CACHE_RULES) }, {}, { trusted: true });
}

/** The start shape of the warm form of `yaml` (compiledWarm). */
export function warmShape(yaml: string): StartShape {
  return startShape(compiledWarm(yaml).containerDefinitions);
}

/** What the autoscaler's passes and the agent's gate did before the changes of issue 18's warm-capacity work (the EC2 model's "before"). */
export const EC2_PASSES_BEFORE: Omit<Ec2PassProfile, 'scheduleSeconds' | 'announceGraceSeconds'> = {
  // ReceiveMessage with WaitTimeSeconds 0 in every pass (adapters/sqs/job-queue.ts).
  nudgedReceiveWaitSeconds: 0,
  // No rule on container instance events: the next scheduled pass found a new instance.
  registrationNudges: false,
  // The gate looked with PROBE_BACKOFF's pace: 0.1 s doubling to every 2 s.
  gateBackoff: { initialMs: 100, maxMs: 2000, factor: 2 },
};

/** Seconds between two looks of a first step's wrapper at the setup record, as compiled before SETUP_POLL_SECONDS. */
export const WRAPPER_POLL_BEFORE = 1;

export interface Ec2Row {
  case: Ec2Case;
  name: string;
  /** The first step's wrapper poll now, read from the compiled command. */
  wrapperPoll: number;
  before: Ec2StartFigures;
  now: Ec2StartFigures;
}

/** Every EC2 case for the warm form of `yaml`: with the passes as they were, and as the code has them now (`now`, read by ec2PassProfile). */
export function ec2Rows(yaml: string, now: Ec2PassProfile, profile: ControlPlaneProfile, runs?: number): Ec2Row[] {
  const shape = warmShape(yaml);
  const before: Ec2PassProfile = { ...now, ...EC2_PASSES_BEFORE };
  // Before, the first step's wrapper looked at the setup record every second (core/pipeline/script.ts).
  const shapeBefore: StartShape = { ...shape, wrapperPoll: WRAPPER_POLL_BEFORE };
  const names: Record<InstanceStart, string> = { running: 'a running idle instance', 'warm-pool': 'a warm-pool instance started', launched: 'a new instance launched' };
  const cases: Ec2Case[] = (['running', 'warm-pool', 'launched'] as const).flatMap((instance) => [true, false].map((imagesCached) => ({ instance, imagesCached })));
  return cases.map((c) => ({
    case: c,
    name: `${names[c.instance]}, images ${c.imagesCached ? 'cached' : 'pulled'}`,
    wrapperPoll: shape.wrapperPoll,
    before: ec2StartFigures(shapeBefore, profile, before, c, runs),
    now: ec2StartFigures(shape, profile, now, c, runs),
  }));
}

/** `profile` with the stack's keepWarm option on (off by default): its schedule pings these functions. */
function keptWarm(profile: ControlPlaneProfile): ControlPlaneProfile {
  const pinged = Object.fromEntries(KEPT_WARM_FUNCTIONS.map((fn) => [fn, coldShareOf(KEEP_WARM_RATE_MINUTES)]));
  return { ...profile, coldShare: { ...profile.coldShare, ...pinged } };
}

/** What the control plane's code does now, read by running it (control-plane-path.ts). */
export interface MeasuredControlPlane {
  /** The planner waits for the Git host's answer to the pending status before RunTask is asked for. */
  statusOnPath: boolean;
  /** The Git host calls and clone-token writes on the path, by instance state (git-host-calls.ts). */
  gitHost: GitHostPath;
}

/** `path`'s calls as a short text: `planner 3/1/2, autoscaler 2+1/0+0/1+1` (cold/warm/refreshed; Git host + SSM writes). */
export function gitHostPathText(path: GitHostPath): string {
  const states = ['cold', 'warm', 'refreshed'] as const;
  return `planner ${states.map((s) => path.planner[s]).join('/')}, autoscaler ${states.map((s) => `${path.autoscaler[s].gitHost}+${path.autoscaler[s].ssmWrites}`).join('/')}`;
}

/** A split pipeline's first segment and service task as the planner compiles them (splitPipelines on, as deployed with a snapshot bucket). */
export function compiledSplit(yaml: string): { segment: ContainerDefinition[]; serviceTask: ContainerDefinition[] } {
  const context = cliContext({ repo: 'acme/app', commit: 'a'.repeat(40) });
  const manifest = loadManifest('.drone.yml', yaml, { substitute: substitutionLookup(context), splitPipelines: true });
  if (!isReadable(manifest)) throw new Error('start model: the pipeline does not load');
  const options = { ...buildCompileOptions(compileOptionsFromEnv(DEPLOYMENT_ENV), { repoSlug: 'acme/app', buildNumber: 1, fork: false }), splitPipelines: true };
  const stage = compileManifest(manifest, context, options).stages[0];
  if (!stage?.segments || !stage.serviceTask) throw new Error('start model: the pipeline did not compile into segments with a service task');
  return { segment: stage.segments[0]!.taskDefinition.containerDefinitions, serviceTask: stage.serviceTask.taskDefinition.containerDefinitions };
}

/**
 * Today's figures (from `today`, the definition compiled before these changes), then each change
 * in turn; `measured`: the control plane's path as the planner runs it now (pendingStatusOnPath).
 */
export function startLadder(yaml: string, today: { containerDefinitions: ContainerDefinition[] }, measured: MeasuredControlPlane, runs?: number): LadderEntry[] {
  // The pipeline as a user who wants the full history writes it: the clone of before.
  const fullClone = `${yaml.trimEnd()}\n\nclone:\n  depth: 0\n`;
  // Until the agent image shrank, tasks pulled the agent built on node:20-alpine.
  const before: ImageAssumptions = { megabytes: { 'slipway-agent': AGENT_IMAGE_BEFORE.mb } };
  const entries: Omit<LadderEntry, 'figures'>[] = [
    { name: 'today', containerDefinitions: today.containerDefinitions, profile: TODAY_CONTROL_PLANE, images: before },
    { name: '+ steps start with the task (pulls at once)', containerDefinitions: compiledContainers(fullClone), profile: TODAY_CONTROL_PLANE, images: before },
    { name: '+ shallow clone (depth 1)', containerDefinitions: compiledContainers(yaml), profile: TODAY_CONTROL_PLANE, images: before },
    // The stack's rules, Docker Hub's credentials given (lib/pull-through-cache.ts).
    { name: '+ ECR pull-through cache', containerDefinitions: compiledContainers(yaml, { [ENV.pullThroughCache]: JSON.stringify(CACHE_RULES) }), profile: TODAY_CONTROL_PLANE, images: before },
  ];
  const cached = entries.at(-1)!.containerDefinitions;
  // task-runner/Dockerfile on alpine with node:20-alpine's node binary alone (bench/lib/agent-image.ts).
  entries.push({ name: '+ agent image without npm, yarn, headers', containerDefinitions: cached, profile: TODAY_CONTROL_PLANE });
  const status = { ...TODAY_CONTROL_PLANE, statusOnPath: measured.statusOnPath };
  // The GitHub App's calls as the code makes them now (git-host-calls.ts), for a private repository.
  const now = { ...status, gitHost: measured.gitHost };
  const warm = keptWarm(now);
  const sociCopies = compiledWithSociCopies(yaml, { [ENV.pullThroughCache]: JSON.stringify(CACHE_RULES) });
  entries.push(
    { name: `+ pending status ${measured.statusOnPath ? 'still before' : 'beside'} the queue`, containerDefinitions: cached, profile: status },
    { name: '+ App installation ids kept, clone tokens reused', containerDefinitions: cached, profile: now },
    { name: '+ keepWarm option (off by default)', containerDefinitions: cached, profile: warm },
    // SOCI (docs/design/soci-indexes.md): the planner names the converted copy of the node image
    // (390 MB, over 250 MB), which Fargate lazy-loads; postgres (150 MB) and the agent stay whole.
    // From an image's second build on: the first one's pull through the cache causes the conversion.
    { name: '+ SOCI copies of cached images > 250 MB (opt-in)', containerDefinitions: sociCopies, profile: warm },
    // zstd (docs/design/start-fast.md): the agent image pushed with zstd layers and, beside the
    // SOCI copies of large images, zstd copies of the smaller cached ones (postgres, 150 MB). Not
    // built: nothing in the task definition says zstd, so the model is told (ImageAssumptions.zstd).
    { name: '(model only) + zstd copies of images < 250 MB', containerDefinitions: sociCopies, profile: warm, images: { zstd: true } },
  );
  return entries.map((e) => ({ ...e, figures: startFigures(startShape(e.containerDefinitions, e.images), e.profile, runs) }));
}

/** The settings that decide a Fargate start in the model: the cache's credentials, SOCI, keepWarm. */
export type StartSettings = Pick<
  SlipwaySettings,
  'pullThroughCache' | 'dockerHubCredentialsSecretArn' | 'ghcrCredentialsSecretArn' | 'gitlabRegistryCredentialsSecretArn' | 'sociReleaseSha256' | 'keepWarm'
>;

/**
 * The start of `yaml` on a deployment with `settings` (default: the stack's defaults, lib/config.ts
 * DEFAULT_SETTINGS), with everything built so far: the ladder's headline rows assume the opt-ins
 * (a Docker Hub secret for the cache's rule, SOCI, keepWarm), this row only what `settings` turn
 * on. Without a Docker Hub secret the stack has no Docker Hub rule (lib/pull-through-cache.ts), so
 * `node` and `postgres` are pulled from Docker Hub as written, and SOCI copies only cached images.
 */
export function deploymentStart(yaml: string, measured: MeasuredControlPlane, settings: StartSettings = DEFAULT_SETTINGS, runs?: number): LadderEntry {
  const rules = settings.pullThroughCache ? deployedRules(settings) : [];
  const env: Record<string, string> = rules.length > 0 ? { [ENV.pullThroughCache]: JSON.stringify(Object.fromEntries(rules.map((r) => [r.domain, r.prefix]))) } : {};
  const now: ControlPlaneProfile = { ...TODAY_CONTROL_PLANE, statusOnPath: measured.statusOnPath, gitHost: measured.gitHost };
  const profile = settings.keepWarm ? keptWarm(now) : now;
  // SOCI converts what the cache pulls (lib/slipway.ts: only with the stack's own cache rules).
  const soci = Boolean(settings.sociReleaseSha256) && rules.length > 0;
  const containerDefinitions = soci ? compiledWithSociCopies(yaml, env) : compiledContainers(yaml, env);
  const dockerHub = rules.some((r) => r.domain === 'docker.io');
  const which = settings === DEFAULT_SETTINGS ? 'left at its defaults' : 'with these settings';
  const name = `a deployment ${which} (${dockerHub ? 'Docker Hub secret' : 'no Docker Hub secret'}, SOCI ${soci ? 'on' : 'off'}, keepWarm ${settings.keepWarm ? 'on' : 'off'})`;
  return { name, containerDefinitions, profile, figures: startFigures(startShape(containerDefinitions), profile, runs) };
}

/**
 * A running idle instance with the images cached, before and after each change in turn (the
 * last one read from the code, `now`), then what keeping the Lambdas warm would add.
 */
export function ec2RunningLadder(yaml: string, now: Ec2PassProfile, profile: ControlPlaneProfile, runs?: number): { name: string; figures: Ec2StartFigures }[] {
  const shape = warmShape(yaml);
  const everySecond: StartShape = { ...shape, wrapperPoll: WRAPPER_POLL_BEFORE };
  const before: Ec2PassProfile = { ...now, ...EC2_PASSES_BEFORE };
  const longPoll: Ec2PassProfile = { ...before, nudgedReceiveWaitSeconds: now.nudgedReceiveWaitSeconds };
  const gate: Ec2PassProfile = { ...longPoll, gateBackoff: now.gateBackoff };
  const c: Ec2Case = { instance: 'running', imagesCached: true };
  const steps: [string, StartShape, Ec2PassProfile, ControlPlaneProfile][] = [
    ['before', everySecond, before, profile],
    ['+ the planner-nudged pass long-polls its message', everySecond, longPoll, profile],
    ['+ the gate looks every 0.5 s at most', everySecond, gate, profile],
    [`+ the wrapper looks every ${shape.wrapperPoll} s (now)`, shape, now, profile],
    ['+ keepWarm option (off by default)', shape, now, keptWarm(profile)],
  ];
  return steps.map(([name, sh, passes, p]) => ({ name, figures: ec2StartFigures(sh, p, passes, c, runs) }));
}

/** A bound on what a lever could give (BOUNDS, SMALLER_VARIANTS), and the task size it needs. */
export interface BoundEntry {
  name: string;
  /** The task's vCPU (2 GB of memory each, as Slipway's default 1 vCPU / 2 GB). */
  vcpu: number;
  figures: StartFigures;
}

/**
 * How close to a goal the levers could get at most, on top of `last` (the ladder's last row):
 * the task's pull rate as a larger task could make it (an upper bound, and one reported 4-vCPU
 * rate), a smaller variant of the pipeline's largest image (its author's choice), both, and the
 * floor: the same start with no image bytes at all (provisioning, boots, health checks).
 */
export function startBounds(yaml: string, last: LadderEntry, runs?: number): BoundEntry[] {
  const base = startShape(last.containerDefinitions, last.images);
  const vcpu = Number(compiledTask(yaml).cpu) / 1024;
  const fourVcpuFactor = BOUNDS.fourVcpuReportedMegabytesPerSecond.value / TASK.ecrMegabytesPerSecond.p50;
  // The pipeline as its author could write it: node:20-slim is under 250 MB, so the cache's copy
  // would be a zstd one, not a SOCI one.
  const slimImage = 'node:20-slim';
  const slim = SMALLER_VARIANTS[slimImage]!;
  const slimYaml = yaml.replace(/image: node:20$/m, `image: ${slimImage}`);
  if (slimYaml === yaml) throw new Error('start model: the pipeline names no node:20 image to replace');
  const slimShape = startShape(compiledContainers(slimYaml, { [ENV.pullThroughCache]: JSON.stringify(CACHE_RULES) }), {
    ...last.images,
    megabytes: { ...last.images?.megabytes, [slim.repository]: slim.mb },
  });
  const noBytes = startShape(last.containerDefinitions, {
    ...last.images,
    megabytes: Object.fromEntries(base.containers.map((c) => [repositoryName(c.image), 0])),
  });
  const rows: [string, StartShape, number][] = [
    [`${last.name.replace(/^\(model only\) /, '')} (the ladder's last row)`, base, vcpu],
    [`+ 2 vCPU, were the pull rate ×${BOUNDS.twoVcpuRateFactor.value} (upper bound)`, { ...base, pullRateFactor: BOUNDS.twoVcpuRateFactor.value }, 2 * vcpu],
    [`+ 4 vCPU at the one reported 4-vCPU rate (${BOUNDS.fourVcpuReportedMegabytesPerSecond.value} MB/s)`, { ...base, pullRateFactor: fourVcpuFactor }, 4 * vcpu],
    [`+ ${slimImage} (${slim.mb} MB) in the pipeline instead of node:20`, slimShape, vcpu],
    [`+ ${slimImage} and 4 vCPU at the reported rate`, { ...slimShape, pullRateFactor: fourVcpuFactor }, 4 * vcpu],
    ['the floor: no image bytes at all', noBytes, vcpu],
  ];
  return rows.map(([name, shape, v]) => ({ name, vcpu: v, figures: startFigures(shape, last.profile, runs) }));
}
