// The one entry point from `.drone.yml` text to a checked Manifest: read YAML with
// positions, parse into typed pipelines, lint. Pure, and it never throws: every problem
// with the input is a diagnostic.

import { hasErrors, sortDiagnostics } from './format.js';
import { lintParsed } from './lint.js';
import { parseDocuments } from './parse.js';
import type { Diagnostic, Manifest, PipelineError, Position } from './types.js';
import type { ParsedPipeline } from './parse.js';
import { SubstitutionError, substitute, type SubstitutionLookup } from './substitute.js';
import { readYaml } from './yaml-source.js';
import { WorkLimitExceeded, WorkMeter, activeMeter, metered } from './work.js';

export const MANIFEST_LIMITS = {
  /** Bytes of YAML. Real pipelines are a few KiB; this keeps a hostile file cheap. */
  maxBytes: 1024 * 1024,
} as const;

export interface LoadOptions {
  /**
   * Drone's `${…}` substitution of the file before it is read (substitute.ts), with the
   * build's values (substitutionLookup in environment.ts). Without it the file is read as
   * written, as Drone's server reads it to evaluate triggers.
   */
  substitute?: SubstitutionLookup;
  /**
   * The deployment runs pipelines over ECS's 10 containers as consecutive tasks
   * (CompileOptions.splitPipelines): one that the cut can split is not a lint error.
   */
  splitPipelines?: boolean;
}

/**
 * Reads, parses and lints under a work budget (work.ts): the caller's active meter (the
 * planner's, shared with trigger evaluation and compilation), or a fresh one.
 */
export function loadManifest(file: string, text: string, options: LoadOptions = {}): Manifest {
  const meter = activeMeter();
  return meter ? loadMetered(file, text, options) : metered(new WorkMeter(), () => loadMetered(file, text, options));
}

function loadMetered(file: string, text: string, options: LoadOptions): Manifest {
  const manifest: Manifest = { file, pipelines: [], secrets: [], skipped: [], errors: [], diagnostics: [] };
  const fail = (pos: Position, message: string): Manifest => {
    manifest.diagnostics.push({ file, line: pos.line, column: pos.column, severity: 'error', message });
    return manifest;
  };

  const bytes = utf8Length(text);
  if (bytes > MANIFEST_LIMITS.maxBytes) return oversizedManifest(file, bytes);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const control = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufffe\uffff]/.exec(text);
  if (control) {
    const code = control[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
    return fail(positionOf(text, control.index), `control character U+${code} is not allowed in YAML (is this a binary file?)`);
  }

  try {
    let source;
    if (options.substitute) {
      let substituted;
      try {
        substituted = substitute(text, options.substitute);
      } catch (error) {
        if (!(error instanceof SubstitutionError)) throw error;
        return fail(positionOf(text, error.offset), error.message);
      }
      const lines = lineStarts(text);
      source = readYaml(file, substituted.text, (offset) => positionIn(lines, substituted.origin(offset)));
    } else {
      source = readYaml(file, text);
    }
    const parsed = parseDocuments(file, source.documents);
    const diagnostics: Diagnostic[] = [...source.diagnostics, ...parsed.diagnostics, ...lintParsed(parsed, file, { splitPipelines: options.splitPipelines === true })];

    manifest.pipelines = parsed.pipelines.map((p) => p.pipeline);
    manifest.secrets = parsed.secrets.map((s) => s.secret);
    manifest.skipped = parsed.skipped.map((s) => s.skipped);
    manifest.diagnostics = diagnostics;
    manifest.errors = pipelineErrors(parsed.pipelines, source.documents.map((d) => d.pos.line), diagnostics);

    if (!hasErrors(diagnostics) && manifest.pipelines.length === 0) {
      if (manifest.skipped.length > 0) {
        const { pos } = parsed.skipped[0]!;
        manifest.diagnostics.push({
          file, line: pos.line, column: pos.column, severity: 'warning',
          message: 'no docker pipeline: every pipeline here runs on another runner, so Slipway has nothing to run',
        });
      } else {
        const where = source.documents[0]?.pos ?? START;
        const message = source.documents.length === 0
          ? 'no pipeline found: the file is empty'
          : 'no pipeline found: expected a document with kind: pipeline';
        fail(where, message);
      }
    }
  } catch (error) {
    manifest.pipelines = [];
    manifest.secrets = [];
    manifest.skipped = [];
    manifest.errors = [];
    if (error instanceof WorkLimitExceeded) {
      manifest.diagnostics = [];
      fail(START, error.message);
      return manifest;
    }
    // A bug of ours must still reach the user as a diagnostic, not as a crash of the
    // webhook or the CLI; the message says it is ours.
    manifest.pipelines = [];
    fail(START, `internal error while reading the file: ${error instanceof Error ? error.message : String(error)}`);
  }
  manifest.diagnostics = sortDiagnostics(manifest.diagnostics);
  return manifest;
}

/** Bytes as fetched from a Git host or disk: anything but UTF-8 is a diagnostic. */
export function loadManifestBytes(file: string, bytes: Uint8Array, options: LoadOptions = {}): Manifest {
  if (bytes.length > MANIFEST_LIMITS.maxBytes) return oversizedManifest(file, bytes.length);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    // The decoder says only "invalid"; find the byte so the user can.
    const offset = firstInvalidUtf8(bytes);
    const pos = bytePosition(bytes, offset);
    const byte = (bytes[offset] ?? 0).toString(16).toUpperCase().padStart(2, '0');
    return {
      file, pipelines: [], secrets: [], skipped: [], errors: [],
      diagnostics: [{ file, ...pos, severity: 'error', message: `file is not UTF-8 text: invalid byte 0x${byte}` }],
    };
  }
  return loadManifest(file, text, options);
}

/** The manifest of a file over the size limit, decided by its size alone (no need to read it). */
export function oversizedManifest(file: string, bytes: number): Manifest {
  return {
    file, pipelines: [], secrets: [], skipped: [], errors: [],
    diagnostics: [{ file, ...START, severity: 'error', message: `file is ${bytes} bytes; the limit is ${MANIFEST_LIMITS.maxBytes} bytes (1 MiB)` }],
  };
}

/** Valid means: no error-severity diagnostic. Warnings do not make a manifest invalid. */
export function isValid(manifest: Manifest): boolean {
  return !hasErrors(manifest.diagnostics);
}

/**
 * The errors of the file as a whole: those in no docker pipeline's document (YAML syntax, a
 * document that is not a pipeline, a secret document). Any of them fails the whole file;
 * the errors of one pipeline fail that pipeline only (Manifest.errors).
 */
export function fileErrors(manifest: Manifest): Diagnostic[] {
  const own = new Set(manifest.errors.flatMap((e) => e.diagnostics));
  return manifest.diagnostics.filter((d) => d.severity === 'error' && !own.has(d));
}

/** Whether the file can be planned: its pipelines may have errors, the file itself has none. */
export function isReadable(manifest: Manifest): boolean {
  return fileErrors(manifest).length === 0;
}

/**
 * Each docker pipeline's own errors: those that point into its YAML document (from its
 * first line to the next document's). Lint reports a problem between pipelines (a
 * duplicate name, an unknown or skipped dependency, a cycle) at the pipeline that has it.
 */
function pipelineErrors(pipelines: readonly ParsedPipeline[], documentLines: readonly number[], diagnostics: readonly Diagnostic[]): PipelineError[] {
  const starts = [...new Set(documentLines)].sort((a, b) => a - b);
  const out: PipelineError[] = [];
  pipelines.forEach((p, index) => {
    const from = p.source.pos.line;
    const to = starts.find((line) => line > from) ?? Number.POSITIVE_INFINITY;
    const own = diagnostics.filter((d) => d.severity === 'error' && d.line >= from && d.line < to);
    if (own.length === 0) return;
    out.push({ index, name: p.pipeline.name, diagnostics: sortDiagnostics(own), triggerSound: p.triggerSound });
  });
  return out;
}

const START: Position = { line: 1, column: 1 };

function utf8Length(text: string): number {
  // Every UTF-16 unit is at most 3 bytes: most files need no count at all.
  if (text.length * 3 <= MANIFEST_LIMITS.maxBytes) return text.length;
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** The offset where each line of `text` starts. */
function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

function positionIn(starts: number[], offset: number): Position {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo + 1, column: offset - starts[lo]! + 1 };
}

function positionOf(text: string, index: number): Position {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < index; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: index - lineStart + 1 };
}

function bytePosition(bytes: Uint8Array, offset: number): Position {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    if (bytes[i] === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    const need = b < 0x80 ? 0 : b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : -1;
    if (need < 0) return i;
    for (let k = 1; k <= need; k++) {
      const next = bytes[i + k];
      if (next === undefined || (next & 0xc0) !== 0x80) return i;
    }
    const second = bytes[i + 1] ?? 0;
    // Overlong forms and UTF-16 surrogates are invalid too.
    if ((b === 0xe0 && second < 0xa0) || (b === 0xed && second > 0x9f) || (b === 0xf0 && second < 0x90) || (b === 0xf4 && second > 0x8f)) return i;
    i += need + 1;
  }
  return Math.max(0, bytes.length - 1);
}
