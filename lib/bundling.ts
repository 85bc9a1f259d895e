// How every Slipway Lambda is bundled. One place, shared by the stack and by the
// bundle-size bench, so the bench measures exactly what is deployed.
//
// Choices (figures in bench/cdk.bench.ts):
// - esbuild runs in-process at synth (its JS API), never Docker. NodejsFunction would spawn
//   `npx esbuild` once per function: ~1 s each of process start-up, half the app's synth.
// - ESM (.mjs), minified, no source maps: the smallest artifact and the fastest init
//   (source-map support slows the init phase and every stack trace).
// - The AWS SDK v3 clients we use are bundled, not taken from the runtime: the runtime's
//   copy changes version under us, and resolving it from an ES module is a runtime detail
//   we would rather not depend on. `module` main fields let esbuild tree-shake the SDK's
//   ES builds.
// - Except the credential providers Lambda never reaches: a function's credentials are in
//   its environment (AWS_ACCESS_KEY_ID …), which the SDK's default chain tries first; the
//   SSO / ini / process / web-identity / container / IMDS providers and the STS/SSO clients
//   they use are loaded by dynamic import() only when that fails. Left external, they cost
//   nothing (and would resolve to the runtime's own SDK if ever reached): ~130 KB less in
//   every bundle.
// - Some CommonJS dependencies call `require` for Node built-ins; an ES module has no
//   `require`, so the banner creates one (in every chunk: each is a module of its own).
// - Code split into chunks: what a handler loads with `import()` only when a request needs it
//   (the webhook's SSM and SQS clients) is a chunk file beside index.mjs, so the module that
//   Lambda loads at init is smaller. Lambda loads a handler's ES modules (.mjs, "always ES
//   modules") and what they import from the same folder or a subfolder
//   (https://docs.aws.amazon.com/lambda/latest/dg/lambda-nodejs.html#designate-es-module,
//   https://docs.aws.amazon.com/lambda/latest/dg/nodejs-handler.html#nodejs-commonjs-es-modules).
//   A handler without `import()` is still one file, index.mjs.
// - arm64 (Graviton): cheaper per millisecond and as fast for this I/O-bound work.
import { dirname } from 'node:path';
import { AssetHashType, DockerImage } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as esbuild from 'esbuild';

/** The newest Node.js runtime this aws-cdk-lib knows (cdk-nag AwsSolutions-L1 asks for it). */
export const LAMBDA_RUNTIME = lambda.Runtime.NODEJS_24_X;
export const LAMBDA_ARCHITECTURE = lambda.Architecture.ARM_64;
/** The bundle's entry module and export: `index.mjs`, `handler`. */
export const LAMBDA_HANDLER = 'index.handler';
/** The entry module's file in the bundle's folder. */
export const LAMBDA_ENTRY_FILE = 'index.mjs';
/** esbuild syntax target: the oldest Node the bundle may meet (local mode runs Node 20). */
export const ESBUILD_TARGET = 'node20';
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __slipwayRequire } from 'node:module'; const require = __slipwayRequire(import.meta.url);";
export const MAIN_FIELDS = ['module', 'main'];
/** Lazily imported by the SDK's default credential chain only when env credentials are absent. */
export const UNREACHED_CREDENTIAL_PROVIDERS = [
  '@aws-sdk/credential-provider-sso',
  '@aws-sdk/credential-provider-ini',
  '@aws-sdk/credential-provider-process',
  '@aws-sdk/credential-provider-web-identity',
  '@aws-sdk/credential-provider-http',
  '@aws-sdk/credential-provider-login',
  '@aws-sdk/token-providers',
  '@aws-sdk/nested-clients',
  '@smithy/credential-provider-imds',
];

/** The esbuild options of one Lambda bundle: `outdir` receives index.mjs and its chunks (chunk-<hash>.mjs). */
export function esbuildOptions(entry: string, outdir: string): esbuild.BuildOptions {
  return {
    entryPoints: { index: entry },
    outdir,
    splitting: true,
    chunkNames: 'chunk-[hash]',
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: ESBUILD_TARGET,
    minify: true,
    sourcemap: false,
    mainFields: MAIN_FIELDS,
    banner: { js: ESM_REQUIRE_BANNER },
    external: UNREACHED_CREDENTIAL_PROVIDERS,
    logLevel: 'silent',
  };
}

/**
 * The Lambda code of one entry: bundled at synth by esbuild in this process. The asset's
 * hash is the bundle's (a change anywhere in what the entry imports redeploys it; nothing
 * else does). When the stack is excluded from bundling (`cdk synth --exclusively` of
 * another stack, or tests), CDK skips it and uses a placeholder.
 */
export function bundledCode(name: string, entry: string): lambda.Code {
  return lambda.Code.fromAsset(dirname(entry), {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // Never pulled: local bundling below always succeeds or throws.
      image: DockerImage.fromRegistry('slipway-local-esbuild-only'),
      // Part of CDK's in-process bundling cache key: one key per entry file.
      command: ['esbuild', entry],
      local: {
        tryBundle(outputDir: string): boolean {
          try {
            esbuild.buildSync(esbuildOptions(entry, outputDir));
          } catch (error) {
            const detail = (error as { errors?: esbuild.Message[] }).errors
              ?.map((e) => `${e.location ? `${e.location.file}:${e.location.line}:${e.location.column}: ` : ''}${e.text}`)
              .join('; ');
            throw new Error(`SLIPWAY-CDK: bundling the ${name} Lambda (${entry}) failed: ${detail ?? (error as Error).message}`);
          }
          return true;
        },
      },
    },
  });
}

export interface BundleSizes {
  /** Bytes Lambda loads at init: index.mjs and the chunks it imports statically, transitively. */
  initial: number;
  /** Bytes of the chunks loaded only by `import()`, when a request needs them. */
  lazy: number;
  files: { path: string; bytes: number; initial: boolean }[];
}

/** The sizes of one bundle, from esbuild's metafile of its build (`metafile: true`). */
export function bundleSizes(metafile: esbuild.Metafile): BundleSizes {
  const outputs = metafile.outputs;
  const entry = Object.keys(outputs).find((path) => outputs[path]!.entryPoint !== undefined && path.endsWith(LAMBDA_ENTRY_FILE));
  if (entry === undefined) throw new Error(`bundling: no ${LAMBDA_ENTRY_FILE} among the outputs ${Object.keys(outputs).join(', ')}`);
  const initial = new Set<string>();
  const visit = (path: string): void => {
    if (initial.has(path)) return;
    initial.add(path);
    for (const imported of outputs[path]?.imports ?? []) if (imported.kind === 'import-statement' && !imported.external) visit(imported.path);
  };
  visit(entry);
  const files = Object.entries(outputs)
    .filter(([path]) => path.endsWith('.mjs'))
    .map(([path, output]) => ({ path, bytes: output.bytes, initial: initial.has(path) }));
  const sum = (list: typeof files) => list.reduce((n, f) => n + f.bytes, 0);
  return { initial: sum(files.filter((f) => f.initial)), lazy: sum(files.filter((f) => !f.initial)), files };
}
