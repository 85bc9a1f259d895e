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
//   `require`, so the banner creates one.
// - arm64 (Graviton): cheaper per millisecond and as fast for this I/O-bound work.
import { dirname, join } from 'node:path';
import { AssetHashType, DockerImage } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as esbuild from 'esbuild';

/** The newest Node.js runtime this aws-cdk-lib knows (cdk-nag AwsSolutions-L1 asks for it). */
export const LAMBDA_RUNTIME = lambda.Runtime.NODEJS_24_X;
export const LAMBDA_ARCHITECTURE = lambda.Architecture.ARM_64;
/** The bundle's entry module and export: `index.mjs`, `handler`. */
export const LAMBDA_HANDLER = 'index.handler';
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

/** The esbuild options of one Lambda bundle (`outfile` is its index.mjs). */
export function esbuildOptions(entry: string, outfile: string): esbuild.BuildOptions {
  return {
    entryPoints: [entry],
    outfile,
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
            esbuild.buildSync(esbuildOptions(entry, join(outputDir, 'index.mjs')));
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
