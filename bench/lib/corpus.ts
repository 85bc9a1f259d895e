// The corpus figure: of the docker pipelines in real public `.drone.yml` files
// (test/fixtures/corpus, sources in its SOURCES.md), how many run on Slipway, and why the
// others do not. Used by test/pipeline/corpus.test.ts (a floor on the figure) and by
// `npm run bench -- corpus` (prints it).
//
// A pipeline "runs" when it compiles to a task with no error of its own and is not skipped,
// with the options of a deployment that splits pipelines over ECS's 10 containers into
// consecutive tasks (CompileOptions.splitPipelines): a pipeline the compiler splits, beside
// a service task or not, counts; one it refuses to split does not.
// Triggers are set aside: a pipeline that runs only on tags still counts once it compiles,
// since the question is whether Slipway can run it, not whether this one push triggers it.
// The build is a push to main of the file's repository.
// Plugin images: a deployment's planner reads each plugin image's command line from its
// registry (core/pipeline/plugin-command.ts); here nothing is asked, and the answers are those
// of test/fixtures/corpus/images.json, each read from the image's public Dockerfile (its
// `source`). A plugin image not listed compiles as if its registry had not answered.

import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isAlias, isMap, isScalar, parseAllDocuments } from 'yaml';
import type { Alias, Document } from 'yaml';
import { cliContext, CLI_COMPILE_OPTIONS } from '../../cli/commands/compile.js';
import { compileManifest } from '../../core/pipeline/compile.js';
import { fileErrors, loadManifest } from '../../core/pipeline/load.js';
import { LINT } from '../../core/pipeline/lint.js';
import { emptyConditions } from '../../core/pipeline/parse.js';
import { segments } from '../../core/pipeline/segments.js';
import { REFUSED_SECRET_NOTE } from '../../core/pipeline/secret-refs.js';
import { isEc2Task } from '../../core/pipeline/ec2-task.js';
import { imageBuildKind } from '../../core/pipeline/image-build.js';
import type { CompileOptions } from '../../core/pipeline/compile.js';
import type { ImageCommands } from '../../core/pipeline/plugin-command.js';

export interface CorpusFile {
  /** `<owner>__<repo>.yml` */
  name: string;
  text: string;
  /** The batch it was added in (SOURCES.md, `## Batch N`), so that a figure measured on earlier batches can be measured again. */
  batch?: number;
}

/** The figure of the files added in one batch. */
export interface BatchFigure {
  batch: number;
  files: number;
  legacyFiles: number;
  pipelines: number;
  running: number;
  runningWithoutImageBuild: number;
}

export interface PipelineVerdict {
  file: string;
  pipeline: string;
  runs: boolean;
  /** It runs, but a `kind: secret` document it reads names another repository's path: that secret is left out. */
  secretsRefused?: boolean;
  /** It has a step that builds an image (imageBuildKind). */
  buildsImage?: boolean;
  /** Why it does not run, with names and numbers taken out so that reasons can be counted. */
  reason?: string;
  /** The message as given. */
  detail?: string;
  /** Lines [from, to) of its YAML document, and the line of the error that stops it, if one does. */
  from: number;
  to: number;
  line?: number;
}

export interface CorpusFigure {
  files: number;
  /** The files in Drone 0.8's format. */
  legacy: string[];
  /** Files in Drone 0.8's format (top-level `pipeline:` map), not counted in the figure. */
  legacyFiles: number;
  /** Docker pipelines of the Drone 1.x files. */
  pipelines: number;
  running: number;
  /** Of `running`, those that run without a secret whose document names a path outside the repository's prefix. */
  runningWithSecretsRefused: number;
  /** Of `running`, those with no image build step (plugins/docker and its siblings, core/pipeline/image-build.ts). */
  runningWithoutImageBuild: number;
  /** running / pipelines, 0…1. */
  share: number;
  /** Reason → pipelines, most frequent first. */
  reasons: [string, number][];
  verdicts: PipelineVerdict[];
  /**
   * The pipelines that ECS's 10 containers alone would stop, by what the cut into consecutive
   * tasks (core/pipeline/segments.ts) makes of them: segments alone, segments beside a
   * service task, or no cut. The first two are counted in `running` when they compile.
   */
  overLimit: { segments: number; withServiceTask: number; impossible: number };
  /**
   * The same pipelines with EC2 capacity on (issue 19) for a trusted repository, on a push:
   * how many run, and how many of those run on EC2 (privileged, docker.sock, dind).
   */
  withEc2: { running: number; share: number; onEc2: number };
  /** The same figure for the files of each batch (those whose batch is known), in batch order. */
  batches: BatchFigure[];
}

/** A deployment with EC2 capacity of both architectures, for a repository marked trusted. */
export const TRUSTED_EC2: NonNullable<CompileOptions['ec2']> = { capacityProviders: { amd64: 'slipway-ec2-amd64', arm64: 'slipway-ec2-arm64' }, trusted: true };

export const CORPUS_DIR = new URL('../../test/fixtures/corpus/', import.meta.url);

/** An image's repository as a `.drone.yml` names it, without its tag or digest. */
const repositoryOf = (image: string) => image.replace(/@.*$/, '').replace(/:[^/:]*$/, '');

/** What the registries say the corpus's plugin images run (images.json: repository → ENTRYPOINT, CMD). */
export function corpusImageCommands(dir: URL = CORPUS_DIR): ImageCommands {
  const table = JSON.parse(readFileSync(join(dir.pathname, 'images.json'), 'utf8')) as Record<string, { entrypoint?: string[]; cmd?: string[]; source: string }>;
  return (image) => {
    const entry = table[repositoryOf(image)];
    return entry ? { ok: true, entrypoint: entry.entrypoint ?? null, cmd: entry.cmd ?? null } : undefined;
  };
}

export function readCorpus(dir: URL = CORPUS_DIR): CorpusFile[] {
  const batches = batchesOf(readFileSync(join(dir.pathname, 'SOURCES.md'), 'utf8'));
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yml'))
    .sort()
    .map((name) => {
      const batch = batches.get(name);
      return { name, text: readFileSync(join(dir.pathname, name), 'utf8'), ...(batch !== undefined ? { batch } : {}) };
    });
}

/** File name → the batch whose table (under `## Batch N` in SOURCES.md) lists it. */
export function batchesOf(sources: string): Map<string, number> {
  const batches = new Map<string, number>();
  let batch: number | undefined;
  for (const line of sources.split('\n')) {
    const heading = /^## Batch (\d+)\b/.exec(line);
    if (heading) batch = Number(heading[1]);
    else if (/^## /.test(line)) batch = undefined;
    const row = /^\| (\S+\.yml) \|/.exec(line);
    if (row && batch !== undefined) batches.set(row[1]!, batch);
  }
  return batches;
}

interface DockerDocument {
  name: string;
  /** Lines [from, to) of its document. */
  from: number;
  to: number;
}

/** The docker pipelines of a file as plain YAML sees them (independent of our parser). */
function dockerDocuments(text: string): { legacy: boolean; pipelines: DockerDocument[] } {
  const lineOf = (offset: number) => text.slice(0, offset).split('\n').length;
  const docs = parseAllDocuments(text);
  const list = Array.isArray(docs) ? docs : [docs];
  const pipelines: DockerDocument[] = [];
  let legacy = false;
  list.forEach((doc, i) => {
    // Read from the document's own pairs, not toJS, so that an alias to no anchor
    // (`files: *.tar.zst`) elsewhere in the file does not throw. A scalar key written twice (a
    // missing `---` between two documents) is read last-wins, as Drone and the loader read it.
    if (!isMap(doc.contents)) return;
    const pairs = doc.contents.items;
    const last = (key: string) => [...pairs].reverse().find((pair) => isScalar(pair.key) && pair.key.value === key);
    const value: Record<string, unknown> = {};
    for (const key of ['kind', 'type', 'name']) {
      const pair = last(key);
      if (pair) value[key] = isScalar(pair.value) ? pair.value.value : isAlias(pair.value) ? resolvedName(doc, pair.value) : undefined;
    }
    if (last('pipeline')) value.pipeline = true;
    if (value.kind === undefined && 'pipeline' in value) legacy = true;
    if (String(value.kind).toLowerCase() !== 'pipeline') return;
    const type = value.type === undefined ? 'docker' : String(value.type);
    if (type !== 'docker') return;
    const from = lineOf(doc.contents?.range[0] ?? 0);
    const next = list.slice(i + 1).find((d) => d.contents);
    const to = next ? lineOf(next.contents!.range[0]) : Number.MAX_SAFE_INTEGER;
    pipelines.push({ name: value.name === undefined ? 'default' : String(value.name), from, to });
  });
  return { legacy, pipelines };
}

/** An alias's value when its anchor is a scalar (`name: *name`), as YAML resolves it. */
function resolvedName(doc: Document, alias: Alias): unknown {
  const target = alias.resolve(doc);
  return isScalar(target) ? target.value : undefined;
}

/** A message with its names, numbers and paths taken out, so that equal causes count together. */
export function reasonOf(message: string): string {
  return message
    .replace(/^compile: pipeline "[^"]*": /, 'compile: ')
    .replace(/"[^"]*"/g, '"…"')
    .replace(/Docker daemon for \S+ \(/, 'Docker daemon for IMAGE (')
    .replace(/\[\d+\]/g, '[]')
    .replace(/\b\d+(\.\d+)?\b/g, 'N')
    .replace(/\(first at line N\)/, '')
    .slice(0, 110)
    .trim();
}

/** `images`: what the registries answer for plugin images (images.json unless told otherwise). */
export function measureCorpus(files: readonly CorpusFile[], images: ImageCommands = corpusImageCommands()): CorpusFigure {
  const verdicts: PipelineVerdict[] = [];
  const legacyNames: string[] = [];
  const overLimit = { segments: 0, withServiceTask: 0, impossible: 0 };
  const withEc2 = { running: 0, onEc2: 0 };
  for (const file of files) {
    const { legacy, pipelines } = dockerDocuments(file.text);
    if (legacy) {
      legacyNames.push(file.name);
      continue;
    }
    verdicts.push(...measureFile(file, pipelines, images).verdicts);
    const ec2 = measureFile(file, pipelines, images, TRUSTED_EC2);
    withEc2.running += ec2.verdicts.filter((v) => v.runs).length;
    withEc2.onEc2 += ec2.onEc2;
    const manifest = loadManifest('.drone.yml', file.text);
    for (const error of manifest.errors) {
      if (!error.diagnostics.every((d) => d.message.includes(LINT.tooManyContainers))) continue;
      const plan = segments(manifest.pipelines[error.index]!);
      if (plan.kind === 'split') overLimit[plan.serviceTask ? 'withServiceTask' : 'segments'] += 1;
      else overLimit.impossible += 1;
    }
  }
  const running = verdicts.filter((v) => v.runs).length;
  const batchOf = new Map(files.map((f) => [f.name, f.batch]));
  const batches = [...new Set(files.flatMap((f) => (f.batch === undefined ? [] : [f.batch])))].sort((a, b) => a - b).map((batch): BatchFigure => {
    const mine = verdicts.filter((v) => batchOf.get(v.file) === batch);
    return {
      batch,
      files: files.filter((f) => f.batch === batch).length,
      legacyFiles: legacyNames.filter((name) => batchOf.get(name) === batch).length,
      pipelines: mine.length,
      running: mine.filter((v) => v.runs).length,
      runningWithoutImageBuild: mine.filter((v) => v.runs && !v.buildsImage).length,
    };
  });
  const counts = new Map<string, number>();
  for (const v of verdicts) if (!v.runs) counts.set(v.reason!, (counts.get(v.reason!) ?? 0) + 1);
  const reasons = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const share = (n: number) => (verdicts.length === 0 ? 0 : n / verdicts.length);
  return {
    files: files.length,
    legacy: legacyNames,
    legacyFiles: legacyNames.length,
    pipelines: verdicts.length,
    running,
    share: share(running),
    reasons,
    verdicts,
    overLimit,
    withEc2: { ...withEc2, share: share(withEc2.running) },
    batches,
    runningWithSecretsRefused: verdicts.filter((v) => v.secretsRefused).length,
    runningWithoutImageBuild: verdicts.filter((v) => v.runs && !v.buildsImage).length,
  };
}

function measureFile(file: CorpusFile, docs: DockerDocument[], images: ImageCommands, ec2?: CompileOptions['ec2']): { verdicts: PipelineVerdict[]; onEc2: number } {
  const [owner, repo] = file.name.replace(/\.yml$/, '').split('__');
  const ctx = cliContext({ repo: `${owner}/${repo}` });
  // Read as `slipway compile` and a deployment read it: a pipeline the cut can split runs.
  const manifest = loadManifest('.drone.yml', file.text, { splitPipelines: CLI_COMPILE_OPTIONS.splitPipelines === true });
  const buildsImage = new Set(manifest.pipelines.filter((p) => p.steps.some((s) => imageBuildKind(s) !== undefined)).map((p) => p.name));
  const verdict = (doc: DockerDocument, runs: boolean, detail?: string, line?: number): PipelineVerdict => {
    const at = { file: file.name, pipeline: doc.name, runs, from: doc.from, to: doc.to, ...(buildsImage.has(doc.name) ? { buildsImage: true } : {}) };
    return runs ? at : { ...at, reason: reasonOf(detail!), detail: detail!, ...(line !== undefined ? { line } : {}) };
  };
  const [fileError] = fileErrors(manifest);
  if (fileError) return { verdicts: docs.map((doc) => verdict(doc, false, `file: ${fileError.message}`, fileError.line)), onEc2: 0 };
  for (const p of manifest.pipelines) p.trigger = emptyConditions();
  const result = compileManifest(manifest, ctx, { ...CLI_COMPILE_OPTIONS, splitPipelines: true, imageCommands: images, ...(ec2 ? { ec2 } : {}) });
  const compiled = new Set(result.stages.map((s) => s.name));
  const refusing = new Set(result.stages.filter((s) => s.notes.some((n) => n.includes(REFUSED_SECRET_NOTE))).map((s) => s.name));
  const errors = new Map(result.errors.map((e) => [e.name, e.diagnostics[0]!]));
  const skipped = new Map(result.skipped.map((s) => [s.name, s.reason]));
  const verdicts = docs.map((doc) => {
    if (compiled.has(doc.name)) return refusing.has(doc.name) ? { ...verdict(doc, true), secretsRefused: true } : verdict(doc, true);
    const error = errors.get(doc.name);
    if (error !== undefined) return verdict(doc, false, error.message, error.line);
    return verdict(doc, false, `skipped: ${skipped.get(doc.name) ?? 'not compiled'}`);
  });
  return { verdicts, onEc2: result.stages.filter((s) => isEc2Task(s.taskDefinition)).length };
}

/** The figure as printed by the bench. */
export function formatFigure(figure: CorpusFigure, top = 15): string {
  const pct = (figure.share * 100).toFixed(1);
  const of = (n: number, total: number) => `${n} of ${total} (${((n / Math.max(1, total)) * 100).toFixed(1)} %)`;
  const lines = [
    `corpus: ${figure.files} files (${figure.legacyFiles} in Drone 0.8's format, not counted), ${figure.pipelines} docker pipelines`,
    `run on Slipway: ${figure.running} of ${figure.pipelines} (${pct} %), ${figure.runningWithSecretsRefused} of them without a secret their file reads from another repository's path (left out, as Drone's secret providers refuse it)`,
    `run without an image build step: ${figure.runningWithoutImageBuild} of ${figure.pipelines} (${((figure.runningWithoutImageBuild / Math.max(1, figure.pipelines)) * 100).toFixed(1)} %)`,
    `with EC2 capacity on, for a trusted repository: ${figure.withEc2.running} of ${figure.pipelines} (${(figure.withEc2.share * 100).toFixed(1)} %), ` +
      `${figure.withEc2.onEc2} of them on EC2 (privileged, docker.sock, dind)`,
    ...figure.batches.map(
      (b) =>
        `  batch ${b.batch} alone (SOURCES.md): ${b.files} files (${b.legacyFiles} in Drone 0.8's format), ` +
        `run ${of(b.running, b.pipelines)}, without an image build step ${of(b.runningWithoutImageBuild, b.pipelines)}`,
    ),
    'why the others do not (pipelines, reason):',
    ...figure.reasons.slice(0, top).map(([reason, n]) => `  ${String(n).padStart(4)}  ${reason}`),
    `stopped only by ECS's 10 containers: ${figure.overLimit.segments + figure.overLimit.withServiceTask + figure.overLimit.impossible}; ` +
      `cut into consecutive tasks: ${figure.overLimit.segments} as segments alone, ${figure.overLimit.withServiceTask} with a service task; ` +
      `${figure.overLimit.impossible} cannot be cut`,
  ];
  return lines.join('\n');
}
