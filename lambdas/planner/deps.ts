// The planner's dependencies from the environment (AWS or local mode).

import { awsPullSecretStore } from '../../adapters/secrets/pull-secret-store.js';
import type { PullSecretStore } from '../../core/pipeline/pull-logins.js';
import { DynamoBuildStore } from '../../adapters/dynamodb/store.js';
import { DynamoStageStore } from '../../adapters/dynamodb/stage-store.js';
import { SqsJobQueue } from '../../adapters/sqs/job-queue.js';
import { ENV } from '../../core/config/lambda-env.js';
import { allowedRepositories, requireEnv, type Env } from '../shared/config.js';
import { compileOptionsFromEnv } from './compile-options.js';
import { dynamoDocument, secretsClient, sqsClient, ssmClient } from '../shared/clients.js';
import { awsSecretCheck, type SecretCheck } from './secret-check.js';
import { NUDGE_SOURCE, autoscalerNudge } from '../shared/nudge.js';
import { createScmAccess } from '../shared/scm.js';
import { installationKeeper } from '../shared/github-app-tokens.js';
import { withHelloRepository } from './doctor.js';
import { lambdaLogger, logTo } from '../shared/observability/logger.js';
import { lambdaMetrics, slipwayMetrics } from '../shared/observability/metrics.js';
import { scmCredentials } from '../shared/secrets.js';
import { cloneCredentialsSource } from '../shared/clone-credentials.js';
import { cloneTokensPrefix } from '../shared/clone-tokens.js';
import type { PlannerDeps } from './plan-event.js';
import { createImageCommandLookup } from '../../adapters/registry/registry-client.js';
import type { ImageCommandLookup } from '../../core/images/types.js';
import { DynamoImageCommandStore } from '../../adapters/dynamodb/image-command-store.js';
import { registryCredentials } from '../shared/registry-credentials.js';
import { ecrCredentialsSource, withMintedCredentials } from '../shared/ecr-credentials.js';
import { EcrImageSizes } from '../../adapters/ecr/image-sizes.js';
import { DynamoSociIndexStore } from '../../adapters/dynamodb/soci-store.js';
import { ECRClient } from '@aws-sdk/client-ecr';
import { sociImageLookup, sociImageNamer } from './soci-images.js';

export const SLIPWAY_VERSION = '0.1.0';

export interface PlannerWiringOptions {
  /** Local mode: its secret store answers (local/secrets.ts), whatever SECRETS_CHECK says. */
  secretCheck?: SecretCheck;
  /** Where Docker config pull secrets are read and derived (default: SSM and Secrets Manager; local mode passes its store). */
  pullSecrets?: PullSecretStore;
  /**
   * Compile pipelines over ECS's 10 containers into consecutive tasks (core/pipeline/segments.ts):
   * only where the autoscaler has a snapshot bucket to sign for. Deployed: SPLIT_PIPELINES=true
   * (the stack sets it with the bucket); local mode: this option.
   */
  splitPipelines?: boolean;
  /**
   * Local mode: answers for the plugin images it runs without their registry (local/plugin-images.ts),
   * in front of the registry lookup. Deployed: none, every image is read from its registry.
   */
  wrapImageLookup?: (registry: ImageCommandLookup) => ImageCommandLookup;
}

export function plannerDepsFromEnv(env: Env = process.env, options: PlannerWiringOptions = {}): PlannerDeps {
  const tableName = requireEnv(env, ENV.tableName, 'the build table');
  const jobsQueueUrl = requireEnv(env, ENV.jobsQueueUrl, 'where ready stages go');
  const doc = dynamoDocument();
  const publicUrl = env[ENV.publicUrl];
  const log = logTo(lambdaLogger('planner', env));
  const metrics = slipwayMetrics(lambdaMetrics(env));
  const split = options.splitPipelines === true || env[ENV.splitPipelines] === 'true';
  const compile = { ...compileOptionsFromEnv(env), ...(split ? { splitPipelines: true } : {}) };
  // Where a GitHub App's per-build clone tokens are written (by the autoscaler, at start).
  const appCloneTokens = {
    prefix: cloneTokensPrefix(env),
    region: compile.region,
    ...(compile.accountId && compile.partition ? { accountId: compile.accountId, partition: compile.partition } : {}),
  };
  const store = new DynamoBuildStore(doc, tableName);
  return {
    store,
    stages: new DynamoStageStore(doc, tableName),
    // Not memoized here: the secret has its own cache with a refresh, and a failed read must be retried.
    // The doctor's hello repository has no Git host: its file is Slipway's, for a restart too.
    // A GitHub App installation GitHub named is kept on the repository's record, which the next
    // plan reads anyway: a new instance then mints a token in one call (github-app-tokens.ts).
    scm: withHelloRepository(createScmAccess({ credentials: () => scmCredentials(env), metrics, keepInstallation: installationKeeper(store, log) })),
    cloneCredentials: cloneCredentialsSource(env, () => scmCredentials(env), appCloneTokens),
    // Tag → digest by HEAD (not a Docker Hub pull), then the answer by digest from memory, the
    // table (outlives this container) or the registry. Logins from the secret's `registries`,
    // read only when a registry asks; private ECR images with a token from ECR (the planner's
    // role); otherwise anonymous pulls. Each lookup ends within its deadline (default 15 s).
    imageLookup: (options.wrapImageLookup ?? ((registry) => registry))(
      createImageCommandLookup({
        store: new DynamoImageCommandStore(doc, tableName),
        credentials: withMintedCredentials(async () => registryCredentials(await scmCredentials(env)), ecrCredentialsSource()),
        log,
      }),
    ),
    // SOCI-enabled copies of large cached images (soci-images.ts): on with the stack's option.
    ...(env[ENV.sociIndexes] && compile.pullThroughCache
      ? (() => {
          const sizes = new EcrImageSizes(new ECRClient({}), compile.pullThroughCache.registry);
          const store = new DynamoSociIndexStore(doc, tableName);
          return { sociImages: sociImageLookup({ describe: (images) => sizes.details(images), store, now: Date.now }), sociNamer: sociImageNamer({ store, now: Date.now }) };
        })()
      : {}),
    jobs: new SqsJobQueue(sqsClient(), jobsQueueUrl),
    // Fire and forget (async invoke): the planner does not wait for the autoscaler's pass.
    nudge: autoscalerNudge(env, NUDGE_SOURCE.planner, log),
    compile,
    ...(options.secretCheck ? { secretCheck: options.secretCheck } : secretCheckOf(env)),
    pullSecrets: options.pullSecrets ?? awsPullSecretStore(ssmClient, secretsClient),
    publicUrl,
    allowedRepositories: allowedRepositories(env),
    system: systemOf(publicUrl),
    now: Date.now,
    log,
    metrics,
  };
}

/** SECRETS_CHECK: `aws` (the stack sets it) or unset / `off`. Local mode passes its own check instead. */
function secretCheckOf(env: Env): Pick<PlannerDeps, 'secretCheck'> {
  const mode = env[ENV.secretsCheck] ?? 'off';
  if (mode === 'aws') return { secretCheck: awsSecretCheck(ssmClient, secretsClient) };
  if (mode === 'off') return {};
  throw new Error(`config: ${ENV.secretsCheck}=${JSON.stringify(mode)}; expected aws or off (local mode passes its secret store to plannerDepsFromEnv)`);
}

function systemOf(publicUrl: string | undefined): PlannerDeps['system'] {
  if (!publicUrl) return { host: 'localhost', proto: 'http', version: SLIPWAY_VERSION };
  const url = new URL(publicUrl);
  return { host: url.host, proto: url.protocol.replace(':', ''), version: SLIPWAY_VERSION };
}
