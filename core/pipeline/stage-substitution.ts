// Drone substitutes `${…}` in the file once per stage, with that stage's own values: the
// runner of each stage builds its envsubst map from environ.Stage(stage) among the others,
// substitutes the raw file, then reads its own pipeline from the result (drone/runner-go
// pipeline/runtime/runner.go: envsubst.Eval(data.Config.Data, subf), then s.Lookup(stage.Name)).
// The planner reads the file once with the build's values, leaving `${DRONE_STAGE_*}` as
// written (environment.ts, substitutionLookup); a file that names one is read again for each
// pipeline with that pipeline's stage values, and each pipeline is taken from its own reading.

import { stageEnv } from './compile.js';
import type { BuildContext } from './context.js';
import { substitutionLookup } from './environment.js';
import { isReadable, loadManifest, type LoadOptions } from './load.js';
import type { Manifest, PipelineError } from './types.js';

/** Mentions a stage variable: `${DRONE_STAGE_…}` in any envsubst form. */
const STAGE_VARIABLE = /\$\{[#!]?DRONE_STAGE_/;

/**
 * `manifest` (the file read with the build's values) with each pipeline, and its errors, as
 * read with its own stage's values. A pipeline whose own reading fails as a whole (a
 * `${DRONE_STAGE_…}` expression envsubst refuses with that value) becomes an errored
 * pipeline with those diagnostics; the others are unaffected.
 */
export function withStageSubstitution(file: string, text: string, ctx: BuildContext, manifest: Manifest, options: Pick<LoadOptions, 'splitPipelines'> = {}): Manifest {
  if (!STAGE_VARIABLE.test(text) || !isReadable(manifest)) return manifest;
  const pipelines = [...manifest.pipelines];
  const errors = new Map<number, PipelineError>(manifest.errors.map((e) => [e.index, e]));
  manifest.pipelines.forEach((pipeline, index) => {
    // Read as the file-wide manifest was (a pipeline the deployment splits is no error here either).
    const own = loadManifest(file, text, { ...options, substitute: substitutionLookup(ctx, stageEnv(pipeline, index + 1)) });
    const mine = own.pipelines[index];
    if (!isReadable(own) || mine === undefined || own.pipelines.length !== manifest.pipelines.length) {
      const diagnostics = own.diagnostics.filter((d) => d.severity === 'error');
      if (diagnostics.length > 0) errors.set(index, { index, name: pipeline.name, diagnostics, triggerSound: true });
      return;
    }
    pipelines[index] = mine;
    const error = own.errors.find((e) => e.index === index);
    if (error) errors.set(index, error);
    else errors.delete(index);
  });
  const errored = [...errors.values()].sort((a, b) => a.index - b.index);
  const diagnostics = [...manifest.diagnostics.filter((d) => !manifest.errors.some((e) => e.diagnostics.includes(d))), ...errored.flatMap((e) => e.diagnostics)];
  return { ...manifest, pipelines, errors: errored, diagnostics };
}
