// The autoscaler: an EventBridge schedule (every minute: a pass with reconciliation) and
// nudges from the planner and the task-events handler (an async invoke `{ "nudge": true }`:
// a pass without it), and with EC2 capacity from an instance joining the cluster
// (lib/instance-registration-nudge.ts). The planner's nudge long-polls the jobs queue
// (receiveWaitSeconds below).
//
// Stages held back only by ECS's API rates (RunTask, Fargate launches) can start about a
// second later: the invocation keeps passing while it has time, instead of leaving them
// to the next schedule or nudge (a burst of 1,000 pushes needs ~50 s at 20 launches/s).

import type { Context } from 'aws-lambda';
import { ECSClient } from '@aws-sdk/client-ecs';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { AwsEc2Fleet } from '../../adapters/ec2/fleet.js';
import { executionDepsFromEnv } from '../shared/execution/wiring.js';
import { requireEnv, type Env } from '../shared/config.js';
import { lambdaLogger, startInvocation } from '../shared/observability/logger.js';
import { lambdaMetrics, withMetricsFlushed } from '../shared/observability/metrics.js';
import { ENV } from '../../core/config/lambda-env.js';
import { NUDGED_RECEIVE_WAIT_SECONDS } from '../../core/scaling/pass-schedule.js';
import { NUDGE_SOURCE } from '../shared/nudge.js';
import { runPass, type AutoscalerDeps, type PassReport } from './autoscaler.js';
import { executionConfig } from './config.js';
import { CLONE_TOKEN_MIN_LIFE_MS } from './start-stage.js';
import { cloneTokensPrefix, createCloneTokenMinter, ssmCloneTokenStore, type CloneTokenMinter, type CloneTokenMinterOptions, type CloneTokenStore } from '../shared/clone-tokens.js';
import { scmCredentials } from '../shared/secrets.js';
import { GithubAppTokens, installationKeeper } from '../shared/github-app-tokens.js';
import type { Fetch } from '../../core/scm/types.js';
import { dynamoDocument, sqsClient, ssmClient } from '../shared/clients.js';
import { DynamoBuildStore } from '../../adapters/dynamodb/store.js';
import { recentRecordsReader } from '../../adapters/dynamodb/recent-records.js';
import { SsmPrepullLists } from '../../adapters/ssm/prepull-lists.js';
import { EcrImageSizes } from '../../adapters/ecr/image-sizes.js';
import { ECRClient } from '@aws-sdk/client-ecr';
import type { PrepullDeps } from './prepull.js';
import type { Ec2PrepullConfig } from './config.js';
import { SqsJobQueue } from '../../adapters/sqs/job-queue.js';
import type { SnapshotUrls } from '../../core/builds/segment-run.js';
import { S3Client } from '@aws-sdk/client-s3';
import { s3SnapshotUrls } from '../../adapters/s3/snapshot-urls.js';
import { snapshotSignerKeys } from './snapshot-signer.js';
import type { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { secretsManagerSecrets } from '../shared/parameters.js';
import { DynamoSociIndexStore } from '../../adapters/dynamodb/soci-store.js';

export interface AutoscalerHandlerOptions {
  /** Where GitHub App clone tokens go (default SSM; local mode: its secret store, which its ECS stand-in reads). */
  cloneTokenStore?: CloneTokenStore;
  /** Presigned URLs of the snapshot bucket for split stages (local mode: local/snapshot-bucket.ts). */
  snapshotUrls?: SnapshotUrls;
  /** Local mode: no Auto Scaling group behind EC2_CAPACITY; the ECS stand-in places EC2-form tasks itself. */
  ecsPlacesEc2Tasks?: boolean;
}

export function autoscalerDepsFromEnv(env: Env = process.env, options: AutoscalerHandlerOptions = {}): AutoscalerDeps {
  const config = executionConfig(env);
  const ecs = new ECSClient({});
  const execution = executionDepsFromEnv('autoscaler', env);
  return {
    ...execution,
    // Queue URLs are not endpoints (see clients.ts): the shared client.
    jobs: new SqsJobQueue(sqsClient(), config.jobsQueueUrl, config.jobsDeadLetterQueueUrl),
    ecs,
    config,
    ...(config.ec2 && !options.ecsPlacesEc2Tasks ? { fleet: new AwsEc2Fleet(new AutoScalingClient({}), ecs, { cluster: config.cluster, ...config.ec2 }) } : {}),
    ...(config.ec2 && config.prepull && !options.ecsPlacesEc2Tasks ? { prepull: prepullDeps(config.tableName, config.prepull) } : {}),
    cloneTokens: cloneTokensFromEnv(env, options.cloneTokenStore ?? ssmCloneTokenStore(ssmClient), undefined, installationKeeper(new DynamoBuildStore(dynamoDocument(), config.tableName), execution.log)),
    ...snapshotUrlsOf(env, options),
    // SOCI-enabled copies of large cached images (index-image.ts): their records and ECR's sizes.
    ...(config.soci ? { soci: sociDeps(config.tableName, config.soci.registry) } : {}),
  };
}

function sociDeps(tableName: string, registry: string): NonNullable<AutoscalerDeps['soci']> {
  const sizes = new EcrImageSizes(new ECRClient({}), registry);
  return { store: new DynamoSociIndexStore(dynamoDocument(), tableName), describe: (images) => sizes.details(images) };
}

/** The prepull lists (lambdas/autoscaler/prepull.ts): SSM parameters, from the recent stages of the build table. */
function prepullDeps(tableName: string, prepull: Ec2PrepullConfig): PrepullDeps {
  const { parameters, registry, repositoryPrefixes, agentImages } = prepull;
  return {
    lists: new SsmPrepullLists(ssmClient(), parameters),
    recent: recentRecordsReader(dynamoDocument(), tableName),
    agentImages,
    pullable: { registry, repositoryPrefixes },
    sizes: new EcrImageSizes(new ECRClient({}), registry),
  };
}

/**
 * The snapshot URLs of split stages: local mode's stand-in (an option), or the deployment's
 * bucket, signed with the snapshot signer's long-term keys (snapshot-signer.ts says why).
 * Neither: a split stage cannot start, and says so (start-stage.ts).
 */
function snapshotUrlsOf(env: Env, options: AutoscalerHandlerOptions): Pick<AutoscalerDeps, 'snapshotUrls'> {
  if (options.snapshotUrls) return { snapshotUrls: options.snapshotUrls };
  const urls = snapshotUrlsFromEnv(env);
  return urls ? { snapshotUrls: urls } : {};
}

/** The deployment's snapshot URLs: SNAPSHOT_BUCKET, signed with the keys in SNAPSHOT_SIGNER_SECRET_ARN. */
export function snapshotUrlsFromEnv(env: Env, secrets: () => Pick<SecretsProvider, 'get'> = secretsManagerSecrets): SnapshotUrls | undefined {
  const bucket = env[ENV.snapshotBucket];
  if (!bucket) return undefined;
  const arn = requireEnv(env, ENV.snapshotSignerSecretArn, `the keys that sign URLs of ${ENV.snapshotBucket}`);
  // The URL names the bucket's Region (the Lambda runtime's AWS_REGION: the stack's own).
  const region = env[ENV.awsRegion];
  // One client per key: a rotated key (read again every few minutes) gets a new one.
  let current: { accessKeyId: string; urls: SnapshotUrls } | undefined;
  return {
    async url(key, method, expiresInSeconds) {
      const keys = await snapshotSignerKeys(arn, secrets);
      if (current?.accessKeyId !== keys.accessKeyId) current = { accessKeyId: keys.accessKeyId, urls: s3SnapshotUrls(new S3Client({ credentials: keys, ...(region ? { region } : {}) }), bucket) };
      return current.urls.url(key, method, expiresInSeconds);
    },
  };
}

/**
 * GitHub App clone tokens: minted with the App of the SCM credentials, written to `store`; an
 * installation GitHub names is kept with `keepInstallation` (the repository's record).
 */
export function cloneTokensFromEnv(env: Env, store: CloneTokenStore, fetchImpl?: Fetch, keepInstallation?: CloneTokenMinterOptions['keepInstallation']): CloneTokenMinter {
  // Where the App's key is, read at start as every setting: the secret (deployed) or plain JSON (local mode).
  const scm: Env = { [ENV.scmCredentialsSecretArn]: env[ENV.scmCredentialsSecretArn], [ENV.scmCredentials]: env[ENV.scmCredentials] };
  return createCloneTokenMinter({
    prefix: cloneTokensPrefix(env),
    credentials: () => scmCredentials(scm),
    store,
    reuseMinLifeMs: CLONE_TOKEN_MIN_LIFE_MS,
    ...(fetchImpl ? { tokens: new GithubAppTokens(fetchImpl) } : {}),
    ...(keepInstallation ? { keepInstallation } : {}),
  });
}

export interface AutoscalerEvent {
  nudge?: boolean;
  source?: string;
  'detail-type'?: string;
}

/** Time a follow-up pass may start with: a pass under load takes a few seconds. */
const FOLLOW_UP_MARGIN_MS = 15_000;
/** Without a Lambda context (the local runtime), follow-up passes stop after this. */
const LOCAL_BUDGET_MS = 30_000;
const RATE_WAIT_MS = 1_000;

const logger = lambdaLogger('autoscaler');

/** The handler, with its dependencies made from the environment at the first invocation. */
export function autoscalerHandler(options: AutoscalerHandlerOptions = {}) {
  let deps: AutoscalerDeps | undefined;
  return async (event: AutoscalerEvent = {}, context?: Pick<Context, 'getRemainingTimeInMillis'> & Partial<Context>): Promise<PassReport> => {
    startInvocation(logger, context);
    deps ??= autoscalerDepsFromEnv(process.env, options);
    const ready = deps;
    return withMetricsFlushed(lambdaMetrics(), () => passes(ready, event, context));
  };
}

async function passes(deps: AutoscalerDeps, event: AutoscalerEvent, context: Pick<Context, 'getRemainingTimeInMillis'> | undefined): Promise<PassReport> {
  const scheduled = isScheduledPass(event);
  const invoked = Date.now();
  const remaining = () => context?.getRemainingTimeInMillis?.() ?? LOCAL_BUDGET_MS - (Date.now() - invoked);
  let report = await pass(deps, scheduled, receiveWaitSeconds(event));
  while (report.deferred.some((d) => d.reason === 'rate-limit') && remaining() > FOLLOW_UP_MARGIN_MS) {
    await new Promise((r) => setTimeout(r, RATE_WAIT_MS));
    report = await pass(deps, false);
  }
  return report;
}

/** The schedule's event (a pass that also reconciles); anything else is a nudge. */
export function isScheduledPass(event: AutoscalerEvent): boolean {
  return event.nudge !== true && (event.source === 'aws.events' || event['detail-type'] === 'Scheduled Event');
}

/**
 * How long the pass's first receive of the jobs queue waits: a pass the planner nudged comes
 * right after it sent the stage's message, which a short poll may miss
 * (core/scaling/pass-schedule.ts); any other pass short-polls (a task event's nudge, the schedule).
 */
export function receiveWaitSeconds(event: AutoscalerEvent): number {
  return event.nudge === true && event.source === NUDGE_SOURCE.planner ? NUDGED_RECEIVE_WAIT_SECONDS : 0;
}

export const handler = autoscalerHandler();

async function pass(deps: AutoscalerDeps, scheduled: boolean, receiveWait = 0): Promise<PassReport> {
  const started = Date.now();
  const report = await runPass(deps, { reconcile: scheduled, ...(receiveWait > 0 ? { receiveWaitSeconds: receiveWait } : {}) });
  deps.log('pass', passLogFields(report, scheduled, Date.now() - started));
  return report;
}

/**
 * The fields of the pass's log line: what it did, and the Fargate vCPU quota in use after it, with
 * the shares of split stages' service tasks and of SOCI converters, in units and in words.
 */
export function passLogFields(report: PassReport, scheduled: boolean, durationMs: number): Record<string, unknown> {
  const { vcpu } = report;
  const inWords = (units: number) => `${+(units / 1024).toFixed(2)}`;
  return {
    scheduled, durationMs, sampled: report.sampled, waiting: report.waiting, started: report.started.length, deferred: report.deferred.length, failed: report.failed.length, runTaskFailures: report.runTaskFailures.length,
    ...(vcpu
      ? {
          vcpu,
          vcpuInUse: `${inWords(vcpu.usedUnits)} of ${inWords(vcpu.quotaUnits)} vCPU (service tasks of split stages ${inWords(vcpu.serviceTaskUnits)}, SOCI image converters ${inWords(vcpu.converterUnits)})`,
        }
      : {}),
  };
}
