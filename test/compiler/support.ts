// The fixed context and options golden fixtures compile with. A fixture may change the
// context with a first-line header: `# context: {"event": "pull_request", "fork": true}`
// (the flags of `slipway compile`). A header line `# options: {"cloneCredentials": {…}}`
// among the leading comment lines adds compile options to the fixed ones.
import { cliContext, type ContextFlags } from '../../cli/commands/compile.js';
import { compileManifest, type CompileOptions, type CompileResult } from '../../core/pipeline/compile.js';
import type { BuildContext } from '../../core/pipeline/context.js';
import { formatDiagnostic } from '../../core/pipeline/format.js';
import { isValid, loadManifest } from '../../core/pipeline/load.js';

export const FIXTURE_OPTIONS: CompileOptions = {
  agentImage: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/slipway-agent:1',
  logGroup: '/slipway/builds',
  region: 'eu-west-1',
  accountId: '123456789012',
  executionRoleArn: 'arn:aws:iam::123456789012:role/slipway-execution',
  cluster: 'slipway',
  network: { subnets: ['subnet-1'], securityGroups: ['sg-1'] },
  stageId: (_pipeline, n) => `build-42-${n}`,
};

export function fixtureContext(text: string): { context: BuildContext; flags: ContextFlags } {
  const header = /^# context: (.*)$/m.exec(text.split('\n', 1)[0] ?? '');
  const flags: ContextFlags = { repo: 'acme/app', commit: 'a'.repeat(40), ...(header ? (JSON.parse(header[1]!) as ContextFlags) : {}) };
  const context = cliContext(flags);
  if (header && /"changed"/.test(header[1]!)) context.changedFiles = (JSON.parse(header[1]!) as { changed: string[] }).changed;
  return { context, flags };
}

/** FIXTURE_OPTIONS plus the fixture's `# options:` header, if any (JSON-expressible options only). */
export function fixtureOptions(text: string): CompileOptions {
  const header = text
    .split('\n')
    .filter((line, i, lines) => lines.slice(0, i + 1).every((l) => l.startsWith('#')))
    .map((line) => /^# options: (.*)$/.exec(line))
    .find((m) => m !== null);
  return header ? { ...FIXTURE_OPTIONS, ...(JSON.parse(header[1]!) as Partial<CompileOptions>) } : FIXTURE_OPTIONS;
}

export function compileFixture(file: string, text: string): CompileResult {
  const manifest = loadManifest(file, text);
  if (!isValid(manifest)) throw new Error(`fixture ${file} is invalid:\n${manifest.diagnostics.map(formatDiagnostic).join('\n')}`);
  return compileManifest(manifest, fixtureContext(text).context, fixtureOptions(text));
}
