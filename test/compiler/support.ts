// The fixed context and options golden fixtures compile with. A fixture may change the
// context with a first-line header: `# context: {"event": "pull_request", "fork": true}`
// (the flags of `slipway compile`). A header line `# options: {"cloneCredentials": {…}}`
// among the leading comment lines adds compile options to the fixed ones; a header line
// `# images: {"plugins/s3": {"entrypoint": ["/bin/drone-s3"]}}` is what the registry says
// those images run (`{"error": "…"}` when it could not be read), as the planner passes it; a
// header line `# pull-secrets: {"dockerconfig": {"hosts": ["registry.example.com"]}}` the
// registries the planner found logins for in each Docker config pull secret (`{"absent": true}`,
// `{"invalid": "…"}`).
// Goldens compile with the planner's own options (lambdas/planner/compile-options.ts) for the
// deployment FIXTURE_ENV describes: what they show is what production registers.
import { cliContext, type ContextFlags } from '../../cli/commands/compile.js';
import { compileManifest, type CompileOptions, type CompileResult } from '../../core/pipeline/compile.js';
import type { BuildContext } from '../../core/pipeline/context.js';
import { substitutionLookup } from '../../core/pipeline/environment.js';
import type { ImageCommandEntry, ImageCommands } from '../../core/pipeline/plugin-command.js';
import type { PullSecretLoginsOf } from '../../core/pipeline/docker-config.js';
import { formatDiagnostic } from '../../core/pipeline/format.js';
import { isReadable, loadManifest } from '../../core/pipeline/load.js';
import { buildCompileOptions, compileOptionsFromEnv } from '../../lambdas/planner/compile-options.js';

/** The planner's environment in a deployment to eu-west-1 (what lib/functions.ts sets). */
export const FIXTURE_ENV: Record<string, string> = {
  AWS_REGION: 'eu-west-1',
  ACCOUNT_ID: '123456789012',
  PARTITION: 'aws',
  AGENT_IMAGE_AMD64: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/slipway-agent:1-amd64',
  AGENT_IMAGE_ARM64: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/slipway-agent:1-arm64',
  BUILD_LOG_GROUP: '/slipway/builds',
  TASK_EXECUTION_ROLE_ARN: 'arn:aws:iam::123456789012:role/slipway-execution',
  TASK_ROLE_ARN: 'arn:aws:iam::123456789012:role/slipway-build',
  SECRETS_PREFIX: '/slipway',
  DEFAULT_CPU: '1024',
  DEFAULT_MEMORY: '2048',
};

/** The deployment's options plus placement and a short stage id, for unit tests that look at those. */
export const FIXTURE_OPTIONS: CompileOptions = {
  ...compileOptionsFromEnv(FIXTURE_ENV),
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

/**
 * The planner's options for the fixture's build (buildCompileOptions over FIXTURE_ENV), plus
 * the fixture's `# options:` and `# images:` headers, if any (JSON-expressible options only;
 * `absentSecrets` as a list).
 */
export function fixtureOptions(text: string): CompileOptions {
  const options = header(text, 'options');
  const images = header(text, 'images');
  const pullSecrets = header(text, 'pull-secrets');
  const { context } = fixtureContext(text);
  const extra = options ? (JSON.parse(options) as Partial<CompileOptions> & { absentSecrets?: string[] }) : {};
  const { absentSecrets, cloneCredentials, ...rest } = extra;
  return {
    ...buildCompileOptions(compileOptionsFromEnv(FIXTURE_ENV), {
      repoSlug: context.repo.slug,
      buildNumber: context.build.number,
      fork: context.build.event === 'pull_request' && context.pullRequest?.fork === true,
      ...(cloneCredentials ? { cloneCredentials } : {}),
      ...(images ? { imageCommands: imageTable(JSON.parse(images) as Record<string, FixtureImage>) } : {}),
      ...(pullSecrets ? { pullSecretLogins: pullSecretTable(JSON.parse(pullSecrets) as Record<string, FixturePullSecret>) } : {}),
      ...(absentSecrets ? { absentSecrets: new Set(absentSecrets) } : {}),
    }),
    ...rest,
  };
}

type FixturePullSecret = { hosts: string[] } | { absent: true } | { invalid: string };

function pullSecretTable(secrets: Record<string, FixturePullSecret>): PullSecretLoginsOf {
  return (secret) => {
    const entry = secrets[secret];
    if (entry === undefined) return undefined;
    if ('hosts' in entry) return { kind: 'read', hosts: entry.hosts };
    return 'absent' in entry ? { kind: 'absent' } : { kind: 'invalid', message: entry.invalid };
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

/** A fixture's pipelines may have errors of their own (they land in `errors`); the file itself must be readable. */
export function compileFixture(file: string, text: string): CompileResult {
  // As the planner compiles: `${…}` substituted with the build's values.
  const { context } = fixtureContext(text);
  const manifest = loadManifest(file, text, { substitute: substitutionLookup(context) });
  if (!isReadable(manifest)) throw new Error(`fixture ${file} is invalid:\n${manifest.diagnostics.map(formatDiagnostic).join('\n')}`);
  return compileManifest(manifest, context, fixtureOptions(text));
}
