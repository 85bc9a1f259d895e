// `slipway lint [FILE…]`: check .drone.yml files. Diagnostics go to stderr as
// FILE:LINE:COLUMN: severity: message; exit 0 valid, 1 invalid, 2 usage.

import { formatDiagnostic } from '../../core/pipeline/format.js';
import { isValid, loadManifestBytes } from '../../core/pipeline/load.js';
import type { Manifest } from '../../core/pipeline/types.js';
import { EXIT, type CliIO } from '../io.js';
import { readPipelineFile } from '../pipeline-file.js';

const USAGE = `usage: slipway lint [--quiet] [FILE…]

Checks Drone pipeline files (default: .drone.yml in the current directory).
Problems are printed to stderr as FILE:LINE:COLUMN: severity: message.

options:
  -q, --quiet   print only problems, not the summary of a valid file
  -h, --help    show this help

exit status: 0 valid (warnings allowed), 1 invalid, 2 usage error (unknown option, missing file)`;

export async function run(args: string[], io: CliIO): Promise<number> {
  const files: string[] = [];
  let quiet = false;
  let onlyFiles = false;
  for (const arg of args) {
    if (onlyFiles || !arg.startsWith('-') || arg === '-') files.push(arg);
    else if (arg === '--') onlyFiles = true;
    else if (arg === '-h' || arg === '--help') {
      io.out(USAGE);
      return EXIT.ok;
    } else if (arg === '-q' || arg === '--quiet') quiet = true;
    else {
      io.err(`slipway lint: unknown option "${arg}"\n${USAGE}`);
      return EXIT.usage;
    }
  }
  if (files.length === 0) files.push('.drone.yml');

  let exit: number = EXIT.ok;
  for (const file of files) {
    const manifest = await lintFile(file, io);
    if (manifest === undefined) {
      exit = EXIT.usage;
      continue;
    }
    for (const d of manifest.diagnostics) io.err(formatDiagnostic(d));
    if (isValid(manifest)) {
      if (!quiet) io.out(`${file}: ${summary(manifest)}: ok`);
    } else {
      const errors = manifest.diagnostics.filter((d) => d.severity === 'error').length;
      io.err(`${file}: invalid (${plural(errors, 'error')})`);
      if (exit === EXIT.ok) exit = EXIT.failed;
    }
  }
  return exit;
}

/** The checked manifest, or undefined (after saying why) when the file cannot be read. */
async function lintFile(file: string, io: CliIO): Promise<Manifest | undefined> {
  const read = await readPipelineFile(io.cwd, file);
  switch (read.kind) {
    case 'read':
      // `${…}` checked as Drone reads it, each left as written (lint knows no build's values).
      // Pipelines over ECS's 10 containers are checked as deployments and local mode run them: split.
      return loadManifestBytes(file, read.bytes, { substitute: () => undefined, splitPipelines: true });
    case 'too-large':
      return read.manifest;
    case 'directory':
      io.err(`slipway lint: ${read.message}`);
      return undefined;
    case 'unreadable': {
      const hint = file === '.drone.yml' ? ' (run slipway lint in a repository with a .drone.yml, or pass FILE)' : '';
      io.err(`slipway lint: ${read.message}${hint}`);
      return undefined;
    }
  }
}

function summary(m: Manifest): string {
  const steps = m.pipelines.reduce((n, p) => n + p.steps.length, 0);
  const services = m.pipelines.reduce((n, p) => n + p.services.length, 0);
  const warnings = m.diagnostics.filter((d) => d.severity === 'warning').length;
  const notes = m.diagnostics.filter((d) => d.severity === 'note').length;
  const parts = [plural(m.pipelines.length, 'pipeline'), plural(steps, 'step'), plural(services, 'service')];
  if (m.skipped.length > 0) parts.push(`${m.skipped.length} skipped`);
  if (warnings > 0) parts.push(plural(warnings, 'warning'));
  if (notes > 0) parts.push(plural(notes, 'note'));
  return parts.join(', ');
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
