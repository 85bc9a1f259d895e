// The fixed context and options golden fixtures compile with. A fixture may change the
// context with a first-line header: `# context: {"event": "pull_request", "fork": true}`
// (the flags of `slipway compile`). A header line `# options: {"cloneCredentials": {…}}`
// among the leading comment lines adds compile options to the fixed ones; a header line
// `# images: {"plugins/s3": {"entrypoint": ["/bin/drone-s3"]}}` is what the registry says
// those images run (`{"error": "…"}` when it could not be read), as the planner passes it.
import { cliContext, type ContextFlags } from '../../cli/commands/compile.js';
import { compileManifest, type CompileOptions, type CompileResult } from '../../core/pipeline/compile.js';
import type { BuildContext } from '../../core/pipeline/context.js';
import type { ImageCommandEntry, ImageCommands } from '../../core/pipeline/plugin-command.js';
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

/** FIXTURE_OPTIONS plus the fixture's `# options:` and `# images:` headers, if any (JSON-expressible options only). */
export function fixtureOptions(text: string): CompileOptions {
  const options = header(text, 'options');
  const images = header(text, 'images');
  return {
    ...FIXTURE_OPTIONS,
    ...(options ? (JSON.parse(options) as Partial<CompileOptions>) : {}),
    ...(images ? { imageCommands: imageTable(JSON.parse(images) as Record<string, FixtureImage>) } : {}),
  };
}

type FixtureImage = { entrypoint?: string[]; cmd?: string[]; digest?: string } | { error: string };

function imageTable(images: Record<string, FixtureImage>): ImageCommands {
  return (image) => {
    const entry = images[image];
    if (entry === undefined) return undefined;
    const answer: ImageCommandEntry =
      'error' in entry
        ? { ok: false, error: entry.error }
        : { ok: true, entrypoint: entry.entrypoint ?? null, cmd: entry.cmd ?? null, ...(entry.digest ? { digest: entry.digest } : {}) };
    return answer;
  };
}

/** The value of a `# NAME: …` line among the fixture's leading comment lines. */
function header(text: string, name: string): string | undefined {
  return text
    .split('\n')
    .filter((line, i, lines) => lines.slice(0, i + 1).every((l) => l.startsWith('#')))
    .map((line) => new RegExp(`^# ${name}: (.*)$`).exec(line))
    .find((m) => m !== null)?.[1];
}

export function compileFixture(file: string, text: string): CompileResult {
  const manifest = loadManifest(file, text);
  if (!isValid(manifest)) throw new Error(`fixture ${file} is invalid:\n${manifest.diagnostics.map(formatDiagnostic).join('\n')}`);
  return compileManifest(manifest, fixtureContext(text).context, fixtureOptions(text));
}
