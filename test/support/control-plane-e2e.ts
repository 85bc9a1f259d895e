// The whole control plane on the local stand-ins, for end-to-end tests: DynamoDB Local,
// fauxqs queues, the ECS stand-in (running the real agent and steps as host processes),
// the local Lambda runtime with the real handlers, a fake Git host on loopback and a real
// local repository whose commits the agent clones. Pushes go through the webhook Lambda's
// handler exactly as its Function URL would invoke it.

import { setLogDestination } from '../../lambdas/shared/observability/logger.js';
import { expect, vi } from 'vitest';
import { HANG_GUARD_MS, buildFinished, waitFor as waitUntil } from './wait.js';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { SSMClient } from '@aws-sdk/client-ssm';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import examples from '@octokit/webhooks-examples/api.github.com/index.json' with { type: 'json' };
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { documentClient } from '../../adapters/dynamodb/client.js';
import { startLocalAws, type LocalAws } from '../../local/aws.js';
import type { EventDeliveryOptions } from '../../local/ecs/events.js';
import { secretReference } from '../../local/secrets.js';
import { SecretNotFoundError } from '../../local/ecs/errors.js';
import { startControlPlane, type ControlPlane } from '../../local/control-plane.js';
import { ensureTable } from '../../lambdas/shared/table.js';
import { DynamoBuildStore } from '../../adapters/dynamodb/store.js';
import type { BuildDetail } from '../../core/builds/types.js';
import { hmacSha256Hex } from '../../core/scm/verify-signature.js';
import { handler as webhookHandler } from '../../lambdas/webhook/handler.js';
import { startFakeGitHost, type FakeGitHost, type RecordedStatus } from './fake-git-host.js';
import { startSsmStandIn } from './ssm-stand-in.js';
import { startSecretsManagerStandIn, type SecretsManagerStandIn } from './secrets-manager-stand-in.js';
import { ssmWebhookSecrets } from '../../lambdas/shared/webhook-secrets.js';
import { localSnapshotUrls, startSnapshotBucket } from '../../local/snapshot-bucket.js';
import { HOST_ALIAS } from '../../local/ecs/sandbox.js';
import { plannerHandler } from '../../lambdas/planner/handler.js';
import { plannerDepsFromEnv } from '../../lambdas/planner/deps.js';
import { withLocalPluginImages } from '../../local/plugin-images.js';
import { autoscalerHandler } from '../../lambdas/autoscaler/handler.js';

export const E2E_REPO = 'Codertocat/Hello-World';
const STATUS_CONTEXT = 'continuous-integration/slipway';

export interface E2eOptions {
  /** Table and queue names (distinct per test file: files may run side by side). */
  name: string;
  /** How the ECS stand-in delivers task events (duplicates, reordering). */
  eventDelivery?: EventDeliveryOptions;
  /** More handler environment (USE_SPOT, …). */
  env?: Record<string, string>;
  /** Repository secrets by parameter name (`/slipway/OWNER/NAME/SECRET`), as SSM would hold them. */
  secrets?: Record<string, string>;
  /** Host directories the steps see read-only (each container has a root of its own with namespaces). */
  sharedPaths?: string[];
  /**
   * Pipelines over ECS's 10 containers run as consecutive tasks: the planner compiles them so,
   * the autoscaler signs URLs of a local snapshot bucket (local/snapshot-bucket.ts).
   */
  splitPipelines?: boolean;
  /** The planner answers local mode's plugin images itself (local/plugin-images.ts), as `slipway up` does. */
  localPluginImages?: boolean;
  /** Loopback ports of host services (the local registry) that tasks reach at HOST_ALIAS (LocalEcsOptions.hostPorts). */
  hostPorts?: number[];
  /**
   * A Secrets Manager stand-in (and `secrets` in the SSM stand-in too), which the planner's
   * pull secret store reaches through the SDK as deployed: Docker config pull secrets are read
   * from them and derived into Secrets Manager, where the ECS stand-in finds the derived ones.
   */
  secretsManager?: boolean;
  /** The USER of images' configurations, as the ECS stand-in runs them (LocalEcsOptions.imageUser). */
  imageUser?: (image: string) => string | undefined;
  /**
   * How long each image pull takes in the ECS stand-in (ms; LocalEcsOptions.pullMs), the same for
   * every image or per image, so that a stage's pulls phase and which pulls overlap show; none by default.
   */
  pullMs?: number | ((image: string) => number);
}

export interface E2e {
  aws: LocalAws;
  git: FakeGitHost;
  plane: ControlPlane;
  store: DynamoBuildStore;
  repoDir: string;
  /** Errors the local runtime reported from the handlers. */
  errors: string[];
  /** The handlers' JSON log lines (one object per line, as in CloudWatch). */
  logLines: Record<string, unknown>[];
  /** Commits the pipeline file on main in the local repository and serves it from the fake host; returns the sha. */
  commit(pipeline: string, message: string): string;
  /** GitHub's own push payload (a branch push), pointed at the local repository and commit. */
  pushPayload(sha: string, message: string): Record<string, unknown>;
  /** The webhook Lambda behind its Function URL, as AWS invokes it. */
  deliver(payload: unknown, delivery: string): Promise<{ statusCode: number; body: Record<string, unknown> }>;
  /** Polls `probe` until it gives a value; the timeout's message says what the control plane was doing. */
  waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs?: number, explain?: () => Promise<string>): Promise<T>;
  /** The build of a delivery, once it has a final status. */
  finishedBuild(delivery: string, timeoutMs?: number): Promise<BuildDetail>;
  /** Delivers GitHub's push of `sha` as `delivery`, which the webhook must accept (202). */
  push(sha: string, delivery: string): Promise<{ statusCode: number; body: Record<string, unknown> }>;
  /** Commits `pipeline`, pushes it, and gives the build once it has a final status. */
  buildOf(pipeline: string, delivery: string): Promise<BuildDetail>;
  /** The Secrets Manager stand-in, with E2eOptions.secretsManager. */
  secretsManager?: SecretsManagerStandIn;
  /** One line of a build's state (stages, messages, ECS tasks), for failure messages. */
  describeBuild(id: string): Promise<string>;
  /** Slipway's commit statuses posted for `sha`, in order. */
  statusesOf(sha: string): RecordedStatus[];
  /** Resolves once a final (not pending) status was posted for `sha`. */
  waitForFinalStatus(sha: string): Promise<RecordedStatus[]>;
  stop(): Promise<void>;
}

type Example = { name: string; examples: Record<string, unknown>[] };

export const stepTable = (detail: BuildDetail) =>
  detail.stages.map((s) => ({ stage: s.name, status: s.status, steps: s.steps.map((x) => `${x.kind}:${x.name}=${x.status}`) }));

/** Starts everything; call stop() in afterAll. Captures the handlers' log lines. */
export async function startE2e(options: E2eOptions): Promise<E2e> {
  const secret = `${options.name}-webhook-secret`;
  const errors: string[] = [];
  const logLines: Record<string, unknown>[] = [];
  const capture = (line: unknown): void => {
    try {
      logLines.push(JSON.parse(String(line)) as Record<string, unknown>);
    } catch {
      logLines.push({ text: String(line) });
    }
  };
  vi.spyOn(console, 'log').mockImplementation(capture);
  // The handlers log through Powertools, which writes to its own console: take its lines too.
  setLogDestination(capture);
  const secretsManager = options.secretsManager ? await startSecretsManagerStandIn() : undefined;
  const pullMs = options.pullMs;
  for (const [name, value] of Object.entries(options.secrets ?? {})) secretsManager?.secrets.set(name, { value, tags: [], versions: 1 });
  const [aws, git, ssm] = await Promise.all([
    startLocalAws({
      // Reads without ConsistentRead lag as they may on AWS (local/dynamodb-eventual.ts).
      dynamodb: { eventualConsistency: { lagMs: 500 } },
      ecs: {
        ...(options.eventDelivery ? { eventDelivery: options.eventDelivery } : {}),
        ...(options.sharedPaths ? { sharedPaths: options.sharedPaths } : {}),
        ...(options.hostPorts ? { hostPorts: options.hostPorts } : {}),
        ...(options.imageUser ? { imageUser: options.imageUser } : {}),
        ...(pullMs ? { pullMs: typeof pullMs === 'number' ? () => pullMs : pullMs } : {}),
        resolveSecret: async (valueFrom) => {
          const ref = secretReference(valueFrom);
          const value = options.secrets?.[ref.name] ?? secretsManager?.secrets.get(ref.name)?.value;
          // As AWS answers for a secret that does not exist: the stand-in stops the task as ECS does.
          if (value === undefined) throw new SecretNotFoundError(ref.source, ref.source === 'ssm' ? ref.name : valueFrom, 'not among the test\'s secrets');
          return value;
        },
      },
    }),
    startFakeGitHost(),
    startSsmStandIn(),
  ]);
  // Repository secrets are SSM parameters too (SecureString), as a deployment keeps them.
  if (secretsManager) for (const [name, value] of Object.entries(options.secrets ?? {})) ssm.values.set(name, { value, type: 'SecureString', version: 1 });
  const ddb = new DynamoDBClient(aws.clientConfig('dynamodb'));
  const table = `${options.name}-builds`;
  await ensureTable(ddb, table);
  const store = new DynamoBuildStore(documentClient(ddb), table);
  const sqs = new SQSClient(aws.clientConfig('sqs'));
  const queue = async (QueueName: string) => (await sqs.send(new CreateQueueCommand({ QueueName, Attributes: { VisibilityTimeout: '5' } }))).QueueUrl!;
  // The queue URLs as fauxqs names them (sqs.<region>.localhost): the handlers must reach
  // them through AWS_ENDPOINT_URL_SQS alone.
  const [eventsUrl, jobsUrl] = [await queue(`${options.name}-events`), await queue(`${options.name}-jobs`)];

  // Where configuration says GitHub's repositories are (github.webUrl): the agent clones
  // <webUrl>/Codertocat/Hello-World.git, whatever clone_url the payload says.
  const gitRoot = mkdtempSync(join(tmpdir(), 'slipway-e2e-git-'));
  const repoDir = join(gitRoot, ...E2E_REPO.split('/')) + '.git';
  mkdirSync(repoDir, { recursive: true });
  const gitIn = (...args: string[]): string =>
    execFileSync('git', args, {
      cwd: repoDir,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, HOME: repoDir, GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 'Dev', GIT_AUTHOR_EMAIL: 'dev@example.com', GIT_COMMITTER_NAME: 'Dev', GIT_COMMITTER_EMAIL: 'dev@example.com' },
    }).trim();
  gitIn('init', '-q', '-b', 'main');

  // The snapshot bucket, where tasks reach it: by the host's alias from their own network namespace.
  const bucket = options.splitPipelines
    ? await startSnapshotBucket(join(gitRoot, 'snapshots'), aws.ecs.isolation === 'namespace' ? { host: '0.0.0.0', advertisedHost: HOST_ALIAS } : {})
    : undefined;
  const plane = await startControlPlane({
    env: {
      ...aws.env(),
      TABLE_NAME: table,
      EVENTS_QUEUE_URL: eventsUrl,
      JOBS_QUEUE_URL: jobsUrl,
      CLUSTER: 'slipway',
      SUBNET_IDS: 'subnet-local',
      WEBHOOK_SECRETS_PREFIX: '/slipway-webhooks',
      AWS_ENDPOINT_URL_SSM: ssm.endpoint,
      ...(secretsManager ? { AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsManager.endpoint } : {}),
      SCM_CREDENTIALS: JSON.stringify({ github: { apiUrl: git.apiUrl, webUrl: pathToFileURL(gitRoot).href, token: 'gh-e2e-token' } }),
      DEFAULT_CPU: '512',
      DEFAULT_MEMORY: '1024',
      ...options.env,
    },
    ecs: aws.ecs,
    ...(bucket || options.localPluginImages
      ? {
          handlers: {
            planner: plannerHandler(() =>
              plannerDepsFromEnv(process.env, { ...(bucket ? { splitPipelines: true } : {}), ...(options.localPluginImages ? { wrapImageLookup: withLocalPluginImages } : {}) }),
            ),
            ...(bucket ? { autoscaler: autoscalerHandler({ snapshotUrls: localSnapshotUrls(bucket) }) } : {}),
          },
        }
      : {}),
    scheduleMs: 2_000,
    onError: (where, err) => errors.push(`${where}: ${(err as Error).message}`),
  });

  // `slipway repo add`: the repository is activated on GitHub with its own secret, in SSM.
  await store.activateRepository({ slug: E2E_REPO, scm: 'github', visibility: 'public', activatedAt: Date.now() });
  await ssmWebhookSecrets(() => new SSMClient({ endpoint: ssm.endpoint, region: aws.region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }), '/slipway-webhooks').put('github', E2E_REPO, secret);
  // The signed delivery id the webhook answered, by the delivery header the test chose.
  const deliveryIds = new Map<string, string>();

  /** What a wait that timed out adds to what it waited for. */
  const planeState = (): string => {
    const recent = logLines.slice(-15).map((l) => JSON.stringify(l)).join('\n') + `\n(${logLines.length} lines)`;
    return `control plane ${JSON.stringify(plane.stats)}; errors: ${errors.join(' | ') || 'none'}; last log lines:\n${recent}`;
  };
  const waitFor: E2e['waitFor'] = (what, probe, timeoutMs = HANG_GUARD_MS, explain = async () => '') =>
    waitUntil(what, probe, { timeoutMs, explain: async () => `${await explain()}; ${planeState()}` });

  const describeBuild = async (id: string): Promise<string> => {
    const detail = await store.getBuildDetail(id);
    const stages = detail?.stages.map((s) => `${s.name}=${s.status}${s.message ? ` (${s.message})` : ''}`).join(', ');
    return `build ${detail?.status}; stages ${stages}; ECS tasks ${aws.ecs.tasks().map((t) => `${t.lastStatus}/${t.stopCode ?? ''}`).join(' ')}`;
  };

  const statusesOf = (sha: string): RecordedStatus[] => git.statuses.filter((s) => s.sha === sha && s.context === STATUS_CONTEXT);

  const e2e: E2e = {
    aws,
    git,
    plane,
    store,
    ...(secretsManager ? { secretsManager } : {}),
    repoDir,
    errors,
    logLines,
    commit(pipeline, message) {
      writeFileSync(join(repoDir, '.drone.yml'), pipeline);
      writeFileSync(join(repoDir, 'README.md'), `hello from the repository (${message})\n`);
      gitIn('add', '.');
      gitIn('commit', '-q', '-m', message);
      const sha = gitIn('rev-parse', 'HEAD');
      git.setFile(E2E_REPO, sha, '.drone.yml', pipeline);
      return sha;
    },
    pushPayload(sha, message) {
      const push = (examples as unknown as Example[]).find((e) => e.name === 'push')!.examples.find((e) => (e.ref as string).startsWith('refs/heads/'))!;
      const payload = structuredClone(push) as Record<string, any>;
      payload.ref = 'refs/heads/main';
      payload.after = sha;
      // Never followed: where to clone comes from configuration (github.webUrl) and the name.
      payload.repository.clone_url = 'https://attacker.example/lure.git';
      payload.repository.default_branch = 'main';
      // Pushed now by its signed time (the example's is from 2019: a replay by today's clock).
      payload.repository.pushed_at = Math.floor(Date.now() / 1000);
      payload.head_commit = { ...payload.head_commit, id: sha, message };
      payload.commits = [{ ...payload.commits[0], id: sha, message, added: [], removed: [], modified: ['.drone.yml', 'README.md'] }];
      return payload;
    },
    async deliver(payload, delivery) {
      const body = JSON.stringify(payload);
      const event = {
        version: '2.0',
        routeKey: '$default',
        rawPath: '/github',
        rawQueryString: '',
        headers: {
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          'x-github-event': 'push',
          'x-github-delivery': delivery,
          'x-hub-signature-256': `sha256=${hmacSha256Hex(secret, body)}`,
          'user-agent': 'GitHub-Hookshot/e2e',
        },
        requestContext: { http: { method: 'POST', path: '/github', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'GitHub-Hookshot/e2e' } },
        body,
        isBase64Encoded: false,
      } as unknown as APIGatewayProxyEventV2;
      const res = await webhookHandler(event);
      const answer = JSON.parse(String(res.body)) as Record<string, unknown>;
      if (typeof answer.deliveryId === 'string') deliveryIds.set(delivery, answer.deliveryId);
      return { statusCode: res.statusCode ?? 0, body: answer };
    },
    waitFor,
    async finishedBuild(delivery, timeoutMs = HANG_GUARD_MS) {
      const id = await waitFor(`a build for delivery ${delivery}`, async () => {
        const deliveryId = deliveryIds.get(delivery);
        return deliveryId ? store.buildForDelivery(deliveryId) : undefined;
      });
      return buildFinished((i) => store.getBuildDetail(i), id, { timeoutMs, explain: async () => `${await describeBuild(id)}; ${planeState()}` });
    },
    async push(sha, delivery) {
      const accepted = await e2e.deliver(e2e.pushPayload(sha, delivery), delivery);
      expect(accepted.statusCode).toBe(202);
      return accepted;
    },
    async buildOf(pipeline, delivery) {
      await e2e.push(e2e.commit(pipeline, delivery), delivery);
      return e2e.finishedBuild(delivery);
    },
    describeBuild,
    statusesOf,
    waitForFinalStatus: (sha) => git.waitForStatuses(() => statusesOf(sha).some((s) => s.state !== 'pending'), HANG_GUARD_MS),
    async stop() {
      setLogDestination(undefined);
      await plane.stop();
      vi.restoreAllMocks();
      await Promise.all([aws.stop(), git.stop(), ssm.stop(), bucket?.close(), secretsManager?.stop()]);
      sqs.destroy();
      ddb.destroy();
      rmSync(gitRoot, { recursive: true, force: true });
    },
  };
  return e2e;
}
