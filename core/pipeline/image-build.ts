// Image build steps: a step whose image is one of Drone's Docker plugins (plugins/docker,
// plugins/ecr, plugins/gcr, plugins/acr, thegeeklab/drone-docker-buildx) needs a Docker
// daemon, which Fargate cannot give (no privileged containers). It becomes a step of a
// daemonless builder (kaniko, docs/design/image-builds.md) that runs a fixed script
// (image-build-script.ts) over the same PLUGIN_* variables, so the settings mean what they
// mean in the plugin. What the builder cannot honour is an error; what has no effect here is
// a note. Pure: the caller gives the options and collects the notes.

import { autoTags } from './auto-tags.js';
import type { BuildContext } from './context.js';
import { imageRepository } from './known-images.js';
import { IMAGE_BUILD_SCRIPT_FILE, STATE_DIR } from './contract.js';
import type { Arch, Pipeline, Position, SettingValue, Step } from './types.js';

/**
 * The builder: osscontainertools/kaniko's debug image (a busybox shell under /busybox), pinned
 * by digest. Where the digest comes from: docs/design/image-builds.md.
 */
export const DEFAULT_IMAGE_BUILDER =
  'ghcr.io/osscontainertools/kaniko:v1.28.5-debug@sha256:d6d74217dc077acfd3094992e917c357080a2d3fdd1042a49e34e29a7e57c572';
/** The shell of the builder image (kaniko's debug image keeps busybox there, out of the way of the image it unpacks). */
export const IMAGE_BUILDER_SHELL = '/busybox/sh';

export type ImageBuildKind = 'docker' | 'ecr' | 'gcr' | 'acr' | 'buildx';

const PLUGINS: Readonly<Record<string, ImageBuildKind>> = {
  'plugins/docker': 'docker',
  'plugins/ecr': 'ecr',
  'plugins/gcr': 'gcr',
  'plugins/acr': 'acr',
  'thegeeklab/drone-docker-buildx': 'buildx',
  'plugins/docker-buildx': 'buildx',
};

/** What the deployment gives image builds (CompileOptions.imageBuilds). */
export interface ImageBuildOptions {
  /** The builder image; default DEFAULT_IMAGE_BUILDER. */
  builderImage?: string;
  /**
   * ECR repositories (names, e.g. `team/app`) this repository may push to. Undefined: not
   * known here (`slipway compile`); the planner always gives the list, empty when none.
   */
  pushRepositories?: readonly string[];
  /** The layer cache repository (`host/name`) of this repository; unset: no cache. */
  cacheRepository?: string;
  /** The account of the deployment's ECR (plugins/ecr without `registry`). */
  ecrAccount?: string;
}

/** Which plugin a step's image is, if it is an image build plugin. */
export function imageBuildKind(step: Pick<Step, 'image' | 'commands'>): ImageBuildKind | undefined {
  if (step.commands.length > 0 || !step.image) return undefined;
  return PLUGINS[imageRepository(step.image)];
}

/** A setting that has no effect without a Docker daemon: a note says so. */
const NO_EFFECT: Readonly<Record<string, string>> = {
  purge: 'there is no Docker daemon whose images could be kept or purged',
  daemon_off: 'there is no Docker daemon to start or leave off',
  storage_driver: 'there is no Docker daemon',
  storage_path: 'there is no Docker daemon',
  bip: 'there is no Docker daemon',
  mtu: 'there is no Docker daemon',
  custom_dns: 'there is no Docker daemon',
  custom_dns_search: 'there is no Docker daemon',
  ipv6: 'there is no Docker daemon',
  experimental: 'there is no Docker daemon',
  debug: 'there is no Docker daemon',
  launch_debug: 'there is no Docker daemon',
  squash: 'kaniko has no squash (each instruction is one layer)',
  compress: 'kaniko sends the context from the workspace directly',
  pull_image: 'kaniko always pulls the base image',
  quiet: 'kaniko has no quiet mode',
  email: 'registry logins take no email',
  cache_from: "the layer cache of Slipway's cache repository replaces it (kaniko --cache-repo)",
  cache_to: "the layer cache of Slipway's cache repository replaces it (kaniko --cache-repo)",
  provenance: 'kaniko writes no provenance attestation',
  sbom: 'kaniko writes no SBOM attestation',
  create_repository: 'Slipway does not create repositories: an administrator allows the ones a repository may push to (imagePushRepositories)',
  access_key: 'the build task role pushes to ECR; stored access keys are not used',
  secret_key: 'the build task role pushes to ECR; stored access keys are not used',
  scan_on_push: 'Slipway does not change repository settings (set image scanning on the repository)',
  lifecycle_policy: 'Slipway does not change repository settings (set the lifecycle policy on the repository)',
  repository_policy: 'Slipway does not change repository settings (set the repository policy on the repository)',
  skip_push_if_tag_exists: 'kaniko pushes every tag',
  registry_type: 'registries are told apart by their host',
};

/** A setting the builder cannot honour: the step is refused with what to do. */
const UNSUPPORTED: Readonly<Record<string, string>> = {
  secret: 'BuildKit build secrets (--secret) are not supported by kaniko: pass the value as a build argument from a secret, or build this image outside Slipway',
  secrets_from_env: 'BuildKit build secrets are not supported by kaniko: pass the value as a build argument from a secret',
  secrets_from_file: 'BuildKit build secrets are not supported by kaniko: pass the value as a build argument from a secret',
  ssh_agent_key: 'kaniko has no SSH agent forwarding: clone what the build needs in an earlier step into the workspace',
  add_host: 'kaniko cannot add host entries to the build',
  push_only: 'push_only re-tags an image from a Docker daemon, and there is none: build and push in one step',
  source_image: 'push_only re-tags an image from a Docker daemon, and there is none: build and push in one step',
  assume_role: 'the build task role is the identity that pushes: ask an administrator to allow the repository (imagePushRepositories) instead of assuming a role',
  external_id: 'the build task role is the identity that pushes: ask an administrator to allow the repository (imagePushRepositories)',
  oidc_token_id: 'the build task role is the identity that pushes',
  cosign_private_key: 'image signing with cosign is not supported by the builder: sign in a later step',
  cosign_password: 'image signing with cosign is not supported by the builder: sign in a later step',
  cosign_params: 'image signing with cosign is not supported by the builder: sign in a later step',
  named_context: 'kaniko has no named build contexts',
  output: 'kaniko pushes to the registry only (no --output)',
};

export interface ImageBuildInput {
  pipeline: Pipeline;
  options: ImageBuildOptions | undefined;
  /** The deployment's region (ECR's default registry). */
  region: string;
  notes: string[];
  fail: (pos: Position, message: string) => never;
}

/**
 * The builder step that replaces an image build plugin step: the builder image, the script
 * the agent writes as its command, the settings kept (their PLUGIN_* variables are what
 * the script reads).
 */
export function imageBuildStep(step: Step, kind: ImageBuildKind, input: ImageBuildInput): Step {
  const { user: _user, ...rest } = step;
  const { pipeline, options, notes, fail } = input;
  const where = `step "${step.name}" (${step.image})`;
  const settings = step.settings;
  const literal = (key: string): unknown => {
    const s = settings[key];
    return s && 'value' in s ? s.value : undefined;
  };

  for (const key of Object.keys(settings).sort()) {
    const why = UNSUPPORTED[key] ?? (key.startsWith('cosign_') ? UNSUPPORTED.cosign_params : undefined);
    if (why !== undefined) fail(step.pos, `${where}: setting ${key}: ${why}`);
  }
  const ignored = Object.keys(settings)
    .filter((key) => NO_EFFECT[key] !== undefined && !(key === 'purge' && literal(key) !== false))
    .sort();
  for (const key of ignored) notes.push(`${where}: setting ${key} has no effect: ${NO_EFFECT[key]}`);

  checkPlatform(step, where, literal('platform') ?? literal('platforms'), pipeline.platform.arch, fail);

  const env: Step['environment'] = { ...step.environment };
  env.SLIPWAY_IMAGE_BUILD_KIND = { value: kind };
  if (options?.cacheRepository) env.SLIPWAY_CACHE_REPO = { value: options.cacheRepository };
  if (kind === 'ecr') {
    if (options?.ecrAccount) env.SLIPWAY_ECR_ACCOUNT = { value: options.ecrAccount };
    env.SLIPWAY_ECR_REGION = { value: input.region };
    checkEcrRepository(step, where, settings, options, fail, notes);
  }
  // The auto_tag decision needs the build's ref: it comes per run (autoTagEnvironment).
  const builder = options?.builderImage ?? DEFAULT_IMAGE_BUILDER;
  notes.push(
    `${where} builds its image with kaniko (${builder.split('@')[0]}) instead of Docker-in-Docker: Fargate runs no privileged container ` +
      `(the settings keep their meaning; see README, "Image builds")`,
  );
  if (step.privileged) notes.push(`${where}: privileged has no effect: the builder needs no privileges`);
  // Steps packed into one container share its per-run variables: each step's auto tags have a name of their own.
  const tags = autoTagsOn(step) ? [`SLIPWAY_AUTO_TAGS="\${${autoTagsVariable(step)}:-}"`] : [];
  // The builder unpacks the base image over its own root: it runs as root (no `user`).
  return {
    ...rest,
    image: builder,
    privileged: false,
    shell: IMAGE_BUILDER_SHELL,
    // Sourced by the step's own shell (its wrapper's job): the script's `exit` ends the step.
    // The agent writes it (contract.ts); `$slipway_state` is the wrapper's state directory (script.ts).
    commands: [...tags, `. "$slipway_state${IMAGE_BUILD_SCRIPT_FILE.slice(STATE_DIR.length)}"`],
    environment: env,
  };
}

/** `platform`/`platforms` other than the pipeline's own architecture: kaniko cannot emulate another CPU. */
function checkPlatform(step: Step, where: string, value: unknown, arch: Arch, fail: ImageBuildInput['fail']): void {
  if (value === undefined || value === null || value === '') return;
  const list = (Array.isArray(value) ? value.map(String) : String(value).split(',')).map((p) => p.trim()).filter(Boolean);
  const other = list.filter((p) => !new RegExp(`^linux/${arch}(/.*)?$`).test(p));
  if (other.length === 0) return;
  fail(
    step.pos,
    `${where}: platform ${list.join(',')}: kaniko builds for the architecture it runs on (linux/${arch}, this pipeline's platform) and cannot emulate another CPU: ` +
      `run one pipeline per architecture (platform: { arch: amd64 } and { arch: arm64 }) with auto_tag_suffix, then join them with plugins/manifest (see README, "Image builds")`,
  );
}

function checkEcrRepository(
  step: Step,
  where: string,
  settings: Record<string, SettingValue>,
  options: ImageBuildOptions | undefined,
  fail: ImageBuildInput['fail'],
  notes: string[],
): void {
  const allowed = options?.pushRepositories;
  if (allowed === undefined) return;
  const repo = settings.repo;
  if (!repo || !('value' in repo) || typeof repo.value !== 'string') {
    if (repo && 'fromSecret' in repo) notes.push(`${where}: repo comes from a secret, so its push right is checked only when it pushes (allowed: ${allowed.join(', ') || 'none'})`);
    return;
  }
  // `ACCOUNT.dkr.ecr.REGION.amazonaws.com/team/app` or `team/app`: the repository name is after the host.
  const name = repo.value.replace(/^[^/]+\.amazonaws\.com(\.cn)?\//, '');
  if (allowed.includes(name)) return;
  fail(
    step.pos,
    `${where}: repo ${repo.value}: this repository may not push to the ECR repository ${name} ` +
      `(allowed: ${allowed.length > 0 ? allowed.join(', ') : 'none'}); an administrator allows it in the stack setting imagePushRepositories`,
  );
}

/**
 * Per-run variables of an image build step: the tags `auto_tag` gives this build, as the
 * plugin decides them (auto-tags.ts). Empty when the step has no auto_tag.
 */
export function autoTagEnvironment(step: Step, ctx: BuildContext): Record<string, string> {
  if (!autoTagsOn(step)) return {};
  const suffixSetting = step.settings.auto_tag_suffix ?? step.settings.default_suffix;
  const suffix = suffixSetting && 'value' in suffixSetting && suffixSetting.value !== null && suffixSetting.value !== undefined ? String(suffixSetting.value) : '';
  const result = autoTags(ctx.commit.ref, ctx.repo.defaultBranch, suffix);
  const value = result.kind === 'tags' ? `tags:${result.tags.join(',')}` : result.kind === 'skip' ? `skip:${result.reason}` : `error:${result.message}`;
  return { [autoTagsVariable(step)]: value };
}

function autoTagsOn(step: Step): boolean {
  return ['auto_tag', 'default_tags'].some((key) => {
    const s = step.settings[key];
    return s !== undefined && 'value' in s && (s.value === true || s.value === 'true');
  });
}

/** The per-run variable of one step's auto tags: the step's name made a shell name, with a hash so that two names cannot meet. */
export function autoTagsVariable(step: Pick<Step, 'name'>): string {
  let h = 0x811c9dc5;
  for (const ch of step.name) h = Math.imul(h ^ ch.codePointAt(0)!, 0x01000193) >>> 0;
  return `SLIPWAY_AUTO_TAGS_${step.name.replace(/[^A-Za-z0-9]/g, '_').slice(0, 40)}_${h.toString(16)}`;
}
