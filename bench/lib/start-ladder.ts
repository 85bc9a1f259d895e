// The start model's figures for today's task definition and after each change, in order:
// each entry is a task definition compiled here (the planner's options for a deployment in
// eu-west-1) plus the control plane's profile, so that a compiler change moves its figure.

import { cliContext } from '../../cli/commands/compile.js';
import { ENV } from '../../core/config/lambda-env.js';
import { compileManifest, type CompileOptions } from '../../core/pipeline/compile.js';
import type { ContainerDefinition } from '../../core/pipeline/ecs-task.js';
import { substitutionLookup } from '../../core/pipeline/environment.js';
import { isReadable, loadManifest } from '../../core/pipeline/load.js';
import { PULL_THROUGH_CACHE_RULES } from '../../core/pipeline/pull-through-cache.js';
import { buildCompileOptions, compileOptionsFromEnv } from '../../lambdas/planner/compile-options.js';
import { FIXTURE_ENV as DEPLOYMENT_ENV } from '../../test/compiler/support.js';
import { AGENT_IMAGE_BEFORE } from './start-measurements.js';
import { coldShareOf, startFigures, startShape, TODAY_CONTROL_PLANE, type ControlPlaneProfile, type ImageAssumptions, type StartFigures } from './start-model.js';
import { KEEP_WARM_RATE_MINUTES, KEPT_WARM_FUNCTIONS } from '../../core/config/keep-warm.js';

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
  const context = cliContext({ repo: 'acme/app', commit: 'a'.repeat(40) });
  const manifest = loadManifest('.drone.yml', yaml, { substitute: substitutionLookup(context) });
  if (!isReadable(manifest)) throw new Error('start model: the pipeline does not load');
  const options = { ...buildCompileOptions(compileOptionsFromEnv({ ...DEPLOYMENT_ENV, ...env }), { repoSlug: 'acme/app', buildNumber: 1, fork: false }), ...extra };
  const result = compileManifest(manifest, context, options);
  const stage = result.stages[0];
  if (!stage) throw new Error(`start model: the pipeline did not compile: ${JSON.stringify(result.errors)}`);
  return stage.taskDefinition.containerDefinitions;
}

/** What the control plane's code does now, read by running it (control-plane-path.ts). */
export interface MeasuredControlPlane {
  /** The planner waits for the Git host's answer to the pending status before RunTask is asked for. */
  statusOnPath: boolean;
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
  const now = { ...TODAY_CONTROL_PLANE, statusOnPath: measured.statusOnPath };
  // The stack's keepWarm option (off by default): its schedule pings these functions.
  const pinged = Object.fromEntries(KEPT_WARM_FUNCTIONS.map((fn) => [fn, coldShareOf(KEEP_WARM_RATE_MINUTES)]));
  const warm = { ...now, coldShare: { ...now.coldShare, ...pinged } };
  entries.push(
    { name: `+ pending status ${measured.statusOnPath ? 'still before' : 'beside'} the queue`, containerDefinitions: cached, profile: now },
    { name: '+ keepWarm option (off by default)', containerDefinitions: cached, profile: warm },
    // Not built: what the model says it would give, to decide whether it pays.
    // SOCI: docs/design/soci-indexes.md (Fargate lazy-loads the node image, 390 MB, from the cache).
    { name: '(model only) + SOCI indexes, images > 250 MB', containerDefinitions: cached, profile: warm, images: { soci: true } },
  );
  return entries.map((e) => ({ ...e, figures: startFigures(startShape(e.containerDefinitions, e.images), e.profile, runs) }));
}
