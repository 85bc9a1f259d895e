// A plugin step (no `commands:`) runs its image's own entrypoint. When it receives secrets
// its output must be masked, so the compiler runs it under a wrapper (script.ts,
// pluginScript) that execs that entrypoint with its output piped through the mask — and
// must therefore know the command line the image would run. It comes from the step
// (`entrypoint:`, Drone's override) or from the image's configuration in its registry,
// which the planner reads before it compiles (the compiler does no I/O).
//
// Docker's rules, which ECS follows: a container's entrypoint replaces the image's
// ENTRYPOINT and clears its CMD; a container's command replaces only the CMD.

import { imageBuildKind } from './image-build.js';
import type { ImageCommand } from '../images/types.js';
import { pluginEnvironment } from './plugin-settings.js';
import { isPlugin } from './pack.js';
import type { Arch, Manifest, Pipeline, Step } from './types.js';

/**
 * A registry's answer for one image (core/images, ImageCommandResult, seen by the compiler),
 * or why there is none. `digest`: the image manifest the answer was read from, which the
 * container is then pinned to, so that the command line and the image ECS pulls agree.
 */
export type ImageCommandEntry = ({ ok: true; digest?: string } & ImageCommand) | { ok: false; error: string };

/** The answers the planner gathered; undefined: the image was not looked up. */
export type ImageCommands = (image: string, arch: Arch) => ImageCommandEntry | undefined;

/** One image to look up before compiling. */
export interface ImageCommandQuery {
  image: string;
  arch: Arch;
  /**
   * A step of this image receives secrets: without its command line the step cannot run
   * (its output must be masked), so a registry that does not answer now is asked again.
   * Otherwise the answer only spares RunTask's overrides (the launcher gives the step the
   * build's variables), and the step runs without it.
   */
  masked: boolean;
}

/** The command line of a masked plugin step (and the image to pin); `unknown` when nobody looked its image up. */
export type PluginArgv = { kind: 'known'; argv: string[]; image?: string } | { kind: 'unknown' } | { kind: 'error'; message: string };

/** `repo:tag` → `repo@sha256:…` (an image already pinned by digest is left as it is). */
export function pinnedImage(image: string, digest: string): string {
  if (image.includes('@')) return image;
  return `${image.replace(/:[^/:]+$/, '')}@${digest}`;
}

/** Drone ignores an empty `entrypoint: []`, and so do we: the image's own applies. */
export const hasEntrypoint = (step: Step): step is Step & { entrypoint: string[] } => (step.entrypoint?.length ?? 0) > 0;

/**
 * Whether the step may receive a secret: a `from_secret` in its settings, its environment
 * or the pipeline's. A superset of what the compiler finally gives it (a later literal can
 * replace an earlier secret), which is what a list of images to look up needs.
 */
export function mayReceiveSecrets(step: Step, pipeline: Pipeline): boolean {
  const fromSecret = (env: Pipeline['environment']) => Object.values(env).some((v) => 'fromSecret' in v);
  return fromSecret(pipeline.environment) || fromSecret(step.environment) || Object.keys(pluginEnvironment(step.settings).secrets).length > 0;
}

/**
 * The images whose command lines the compiler uses: those of plugin steps that do not give
 * their own `entrypoint:`. A step that may receive secrets needs it (its output is masked;
 * never with secrets withheld, as for a fork's pull request); every other plugin step runs
 * under the launcher with it (script.ts, pluginScript), and without it as its image's
 * entrypoint. Each image and architecture once, `masked` when any of its steps needs it.
 */
export function imageCommandQueries(manifest: Manifest, withSecrets: boolean): ImageCommandQuery[] {
  const seen = new Map<string, ImageCommandQuery>();
  for (const pipeline of manifest.pipelines) {
    for (const step of pipeline.steps) {
      // An image build plugin runs as a builder step with commands (image-build.ts): its own image is never run.
      if (!isPlugin(step) || hasEntrypoint(step) || imageBuildKind(step)) continue;
      const key = `${pipeline.platform.arch} ${step.image}`;
      const masked = withSecrets && mayReceiveSecrets(step, pipeline);
      seen.set(key, { image: step.image, arch: pipeline.platform.arch, masked: masked || (seen.get(key)?.masked ?? false) });
    }
  }
  // The file is the attacker's: it may name thousands of images, each a registry call made with
  // the deployment's credentials (and its Docker Hub quota) for every push. Steps that receive
  // secrets need their answer (all of them are asked); the others only run more compactly with
  // it, so past MAX_UNMASKED_LOOKUPS they start as their image's entrypoint, as without a lookup.
  let unmasked = 0;
  return [...seen.values()].filter((q) => q.masked || ++unmasked <= MAX_UNMASKED_LOOKUPS);
}

/** Plugin images a build looks up for the launcher alone (steps that receive no secrets). */
export const MAX_UNMASKED_LOOKUPS = 32;

/** The command line a plugin step's container runs, as Docker would assemble it. */
export function pluginArgv(step: Step, arch: Arch, commands: ImageCommands | undefined): PluginArgv {
  if (hasEntrypoint(step)) return { kind: 'known', argv: [...step.entrypoint, ...(step.command ?? [])] };
  const entry = commands?.(step.image, arch);
  if (entry === undefined) return { kind: 'unknown' };
  if (!entry.ok) return { kind: 'error', message: entry.error };
  const argv = [...(entry.entrypoint ?? []), ...(step.command ?? entry.cmd ?? [])];
  if (argv.length === 0) return { kind: 'error', message: `image ${step.image} (linux/${arch}) has neither an ENTRYPOINT nor a CMD: there is nothing to run` };
  return { kind: 'known', argv, ...(entry.digest ? { image: pinnedImage(step.image, entry.digest) } : {}) };
}
