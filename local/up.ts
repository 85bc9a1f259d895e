// Local mode in one call: the stand-ins (DynamoDB Local, fauxqs, the ECS stand-in), the
// table and queues, the local Lambda runtime (planner, autoscaler, task-events) and the
// local server (dashboard, /api, /hooks) — the same handler code as in AWS. `slipway up`
// and `slipway run` are thin commands over this; tests use it too.

import { rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { documentClient } from '../adapters/dynamodb/client.js';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoBuildStore } from '../adapters/dynamodb/store.js';
import type { BuildDetail } from '../core/builds/types.js';
import { ENV } from '../core/config/lambda-env.js';
import type { BuildHook, EventMessage } from '../core/scm/types.js';
import { apiDepsFromEnv } from '../lambdas/api/wiring.js';
import { localLogReader } from './log-reader.js';
import type { SubmitResult } from '../lambdas/api/restart.js';
import { plannerDepsFromEnv } from '../lambdas/planner/deps.js';
import { plannerHandler } from '../lambdas/planner/handler.js';
import { autoscalerHandler } from '../lambdas/autoscaler/handler.js';
import { storeSecretCheck } from '../lambdas/planner/secret-check.js';
import { planEvent } from '../lambdas/planner/plan-event.js';
import { answerDoctor } from '../lambdas/planner/doctor.js';
import { isPlannerDoctorRequest } from '../core/doctor/planner-probe.js';
import { withLocalPluginImages } from './plugin-images.js';
import { sendEventMessage } from '../lambdas/shared/events-queue.js';
import { ensureTable } from '../lambdas/shared/table.js';
import { withAgentProgress } from '../lambdas/shared/execution/agent-progress.js';
import { buildDashboard } from '../web/build.js';
import { startLocalAws, type LocalAws } from './aws.js';
import { startControlPlane, type ControlPlane } from './control-plane.js';
import { LocalSecretStore, localPullSecretStore, localWebhookSecrets, slipwayHome } from './secrets.js';
import { localSnapshotUrls, startSnapshotBucket } from './snapshot-bucket.js';
import { startLocalServer, type LocalServer } from './server.js';
import { createLocalQueues } from './queues.js';
import { imageRegistryBinary, startImageRegistry, type ImageRegistry } from './image-registry.js';
import { htpasswdLine, localRegistryLogin, withLocalRegistryLogin, type RegistryLogin } from './registry-login.js';
import { localPushRights, parsePushRepositories, PUSH_REPOSITORIES_ENV, type LocalPushRights } from './push-rights.js';
import type { ImageCommandLookup } from '../core/images/types.js';
import { HOST_ALIAS } from './ecs/sandbox.js';
import { join } from 'node:path';
import type { Snapshot } from './snapshot.js';
import { LocalRunRefused, localRuns, type LocalRuns } from './local-runs.js';
import { apiError, type ApiResponse } from '../lambdas/api/http.js';
import { isFinished } from '../core/builds/status.js';

export const LOCAL_TABLE = 'slipway';
export const LOCAL_CLUSTER = 'slipway';
export const LOCAL_LOG_GROUP = '/slipway/builds';

export interface LocalSlipwayOptions {
  /** Port of the dashboard/API/hooks server (default PORT or 8080; 0: any free port). */
  port?: number;
  env?: NodeJS.ProcessEnv;
  /** Milliseconds between scheduled autoscaler passes that start queued work (default 2000). */
  scheduleMs?: number;
  /** Milliseconds between reconciling passes (default 30000). */
  reconcileMs?: number;
  /** Network namespace per task when the host allows (default 'auto'). */
  namespaces?: 'auto' | boolean;
  /**
   * How far (ms) DynamoDB reads without ConsistentRead lag behind writes, as they may on AWS
   * (default SLIPWAY_DYNAMODB_LAG_MS or 500; 0: always the latest, as DynamoDB Local alone).
   */
  dynamoDbLagMs?: number;
  /**
   * How long each image pull takes in the ECS stand-in (ms; default SLIPWAY_PULL_MS or 0): nothing
   * is pulled locally, so by default the pulls phase is empty; a pull time shows which images
   * ECS pulls side by side and what the stage timeline makes of it.
   */
  pullMs?: number;
  /** Diagnostics of the handlers (errors they hit; they are retried as in AWS). */
  onError?: (where: string, err: unknown) => void;
  /** What the local server did (webhooks received). */
  log?: (line: string) => void;
  /**
   * Accept `slipway run` of this machine's working copies at POST /api/local/runs from callers
   * that hold this token (local-runs.ts; `slipway up` writes it where only its owner reads it).
   */
  runToken?: string;
}

export interface LocalSlipway {
  /** `http://localhost:PORT` */
  url: string;
  aws: LocalAws;
  plane: ControlPlane;
  server: LocalServer;
  store: DynamoBuildStore;
  /** How tasks are isolated, and why not, for the banner. */
  isolation: string;
  /**
   * The local image registry as build steps name it (`repo: <this>/team/app`, `insecure: true`)
   * and which repositories' builds may push there (SLIPWAY_IMAGE_PUSH_REPOSITORIES), or why
   * there is none (docker-registry not installed).
   */
  imageRegistry: { host: string; pushRepositories: Record<string, string[]> } | { missing: string };
  /** Plans a build of a snapshot repository in-process (the planner's code, no webhook). */
  buildSnapshot(snapshot: Snapshot, repo: { slug: string }): Promise<SubmitResult>;
  /** Polls the build until it finishes; `onChange` sees every new state. */
  waitForBuild(id: string, onChange?: (build: BuildDetail) => void, timeoutMs?: number): Promise<BuildDetail>;
  stop(): Promise<void>;
}

/** The ECS stand-in's account (local/ecs/index.ts). */
const LOCAL_ACCOUNT_ID = '000000000000';

export async function startLocalSlipway(options: LocalSlipwayOptions = {}): Promise<LocalSlipway> {
  const env = options.env ?? process.env;
  const pullMs = options.pullMs ?? Number(env.SLIPWAY_PULL_MS || 0);
  if (!Number.isFinite(pullMs) || pullMs < 0) throw new Error(`local: SLIPWAY_PULL_MS must be a number of milliseconds ≥ 0, got ${JSON.stringify(env.SLIPWAY_PULL_MS)}`);
  const port = options.port ?? Number(env.PORT || 8080);
  const webDir = buildDashboard();
  const secrets = new LocalSecretStore(slipwayHome(env));
  const lagMs = options.dynamoDbLagMs ?? Number(env.SLIPWAY_DYNAMODB_LAG_MS || 500);
  if (!Number.isFinite(lagMs) || lagMs < 0) throw new Error(`local: SLIPWAY_DYNAMODB_LAG_MS must be a number of milliseconds ≥ 0, got ${JSON.stringify(env.SLIPWAY_DYNAMODB_LAG_MS)}`);
  const pushRepositories = parsePushRepositories(env[PUSH_REPOSITORIES_ENV]);
  const cleanups: (() => Promise<void> | void)[] = [];
  // Where image build steps push (local/image-builder.sh): on loopback only, with a login made
  // once for this SLIPWAY_HOME; the ECS stand-in relays it to tasks in their own network
  // namespace (HOST_ALIAS) and gives the login to the pushing containers of listed repositories.
  const registry = imageRegistryBinary() ? await startLocalModeRegistry(env, pushRepositories) : undefined;
  if (registry) cleanups.push(() => registry.registry.stop());
  const startAws = () =>
    startLocalAws({
      dynamodb: lagMs > 0 ? { eventualConsistency: { lagMs } } : {},
      ecs: {
        resolveSecret: (valueFrom) => secrets.resolve(valueFrom),
        namespaces: options.namespaces ?? 'auto',
        // No container sees this home (every repository's secrets, the registry's login), whichever SLIPWAY_HOME this process has.
        hiddenPaths: [...new Set([slipwayHome(env), slipwayHome(process.env)])],
        ...(registry ? { hostPorts: [registry.registry.port], pushGrant: registry.rights.grant } : {}),
        ...(pullMs > 0 ? { pullMs: () => pullMs } : {}),
      },
    });
  const aws = await startAws().catch(async (error: unknown) => {
    await registry?.registry.stop();
    throw error;
  });
  cleanups.push(() => aws.stop());
  const stopAll = async () => {
    const errors: unknown[] = [];
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (err) {
        errors.push(err);
      }
    }
    cleanups.length = 0;
    if (errors.length) throw new AggregateError(errors, `local: ${errors.length} part(s) failed to stop`);
  };
  try {
    const ddb = new DynamoDBClient(aws.clientConfig('dynamodb'));
    cleanups.push(() => ddb.destroy());
    await ensureTable(ddb, LOCAL_TABLE);
    // fauxqs names queues `sqs.<region>.localhost`: every SQS client here sends to the
    // configured endpoint, never to the queue URL's host (as lambdas/shared/clients.ts).
    const sqs = new SQSClient({ ...aws.clientConfig('sqs'), useQueueUrlAsEndpoint: false });
    cleanups.push(() => sqs.destroy());
    const { eventsUrl, jobsUrl, jobsDeadLetterUrl } = await createLocalQueues(sqs);
    const publicUrl = `http://localhost:${port === 0 ? 8080 : port}`;
    const handlerEnv: Record<string, string> = {
      ...aws.env(),
      [ENV.tableName]: LOCAL_TABLE,
      [ENV.eventsQueueUrl]: eventsUrl,
      [ENV.jobsQueueUrl]: jobsUrl,
      [ENV.jobsDeadLetterQueueUrl]: jobsDeadLetterUrl,
      [ENV.cluster]: LOCAL_CLUSTER,
      [ENV.subnetIds]: 'subnet-local',
      [ENV.securityGroupIds]: 'sg-local',
      [ENV.assignPublicIp]: 'DISABLED',
      [ENV.buildLogGroup]: LOCAL_LOG_GROUP,
      // As deployed: full ARNs of the stand-ins' account.
      [ENV.accountId]: LOCAL_ACCOUNT_ID,
      [ENV.partition]: 'aws',
      [ENV.useSpot]: 'false',
      // EC2 capacity as a deployment with it has (lib/ec2-capacity.ts): the ECS stand-in runs
      // EC2-form tasks as it runs Fargate ones, and says it has no Docker daemon to give.
      [ENV.ec2Capacity]: JSON.stringify({ amd64: { capacityProvider: 'local-ec2-amd64', autoScalingGroup: 'local' }, arm64: { capacityProvider: 'local-ec2-arm64', autoScalingGroup: 'local' } }),
      [ENV.vcpuQuota]: env[ENV.vcpuQuota] || '6',
      [ENV.maxConcurrentBuilds]: env[ENV.maxConcurrentBuilds] || '10',
      [ENV.publicUrl]: publicUrl,
      // No CloudWatch here to read embedded-format metrics: Powertools Metrics writes nothing
      // (the log lines carry the same figures: queueWaitMs, status, …).
      [ENV.powertoolsMetricsDisabled]: 'true',
      ...(env[ENV.scmCredentials] ? { [ENV.scmCredentials]: env[ENV.scmCredentials] } : {}),
      // The repositories that may push to the local registry build under a role of their own, as deployed.
      ...(registry ? registry.rights.plannerEnv : {}),
    };
    // Workspace snapshots between the segments of a pipeline over ECS's 10 containers, in
    // ~/.slipway (which no step sees), reached by tasks in their own network namespace
    // through the host's alias (local/ecs/sandbox.ts).
    const snapshotsDir = join(slipwayHome(env), 'snapshots');
    const bucket = await startSnapshotBucket(snapshotsDir, aws.ecs.isolation === 'namespace' ? { host: '0.0.0.0', advertisedHost: HOST_ALIAS } : {});
    cleanups.push(async () => {
      await bucket.close();
      rmSync(snapshotsDir, { recursive: true, force: true });
    });
    // The planner leaves out secrets the local store does not hold (ECS would stop the task on one).
    // plugins/manifest's command line comes from local/plugin-images.ts (no registry to ask here).
    // Images in the local registry are read with its login.
    const wrapImageLookup = (lookup: ImageCommandLookup) => withLocalPluginImages(registry ? withLocalRegistryLogin(lookup, registry.registry.port, registry.login) : lookup);
    // Docker config pull secrets are read from, and their derived logins written to, the same store.
    const plannerOptions = { secretCheck: storeSecretCheck((ref) => secrets.has(ref)), pullSecrets: localPullSecretStore(secrets), splitPipelines: true, wrapImageLookup };
    const plannerBatches = plannerHandler(() => plannerDepsFromEnv(process.env, plannerOptions));
    // A GitHub App's clone tokens go to the local secret store, which the ECS stand-in reads.
    const autoscaler = autoscalerHandler({ cloneTokenStore: { put: async (name, value) => secrets.put(name, value) }, snapshotUrls: localSnapshotUrls(bucket), ecsPlacesEc2Tasks: true });
    const plane = await startControlPlane({ env: handlerEnv, ecs: aws.ecs, handlers: { planner: plannerBatches, autoscaler }, scheduleMs: options.scheduleMs ?? 2000, reconcileMs: options.reconcileMs ?? 30_000, ...(options.onError ? { onError: options.onError } : {}) });
    cleanups.push(() => plane.stop());

    const planner = plannerDepsFromEnv(process.env, plannerOptions);
    const submit = async (message: EventMessage): Promise<SubmitResult> => {
      const outcome = await planEvent(message, planner);
      plane.nudge();
      return outcome.kind === 'skipped' ? { skipped: outcome.reason } : { buildId: outcome.buildId };
    };
    const doc = documentClient(ddb);
    const store = new DynamoBuildStore(doc, LOCAL_TABLE);
    const webhookSecrets = localWebhookSecrets(slipwayHome(env));
    const api = apiDepsFromEnv(process.env, {
      open: true,
      webhookSecrets,
      webhookUrl: `${publicUrl}/hooks`,
      logs: localLogReader(aws.ecs.logsDir, LOCAL_LOG_GROUP),
      logGraceMs: 300,
      submit,
    });
    // Filled in below, once buildSnapshot exists; the server only calls it after start.
    let runs: LocalRuns | undefined;
    const server = await startLocalServer({
      port,
      webDir,
      api,
      ...(options.runToken ? { localRuns: (body: string) => answerLocalRun(runs, body) } : {}),
      webhook: {
        repositories: store,
        // Read on every delivery: the file is local, and `slipway repo rotate-secret` applies at once.
        secrets: webhookSecrets,
        deliveries: store,
        enqueue: (message) => sendEventMessage(sqs, eventsUrl, message),
      },
      // `slipway doctor --local` asks the planner what it asks the deployed one.
      invoke: {
        planner: async (payload) => {
          if (!isPlannerDoctorRequest(payload)) throw new Error('local planner: only slipway doctor invokes it directly; events arrive through the events queue');
          const answer = await answerDoctor(payload, planner);
          // As after a webhook's build: the autoscaler looks at once, not at its next tick.
          plane.nudge();
          return answer;
        },
      },
      ...(options.log ? { log: options.log } : {}),
    });
    cleanups.push(() => server.stop());

    // Tasks in their own network namespace name the registry by HOST_ALIAS (relayed there).
    const imageRegistry: LocalSlipway['imageRegistry'] = registry
      ? { host: aws.ecs.isolation === 'namespace' ? `${HOST_ALIAS}:${registry.registry.port}` : registry.registry.host, pushRepositories }
      : { missing: 'docker-registry is not installed (apt-get install docker-registry, or npm run setup)' };

    const local: LocalSlipway = {
      imageRegistry,
      url: server.url,
      aws,
      plane,
      server,
      store,
      isolation: aws.ecs.isolation === 'namespace' ? 'a network namespace per task, a root and PID namespace of its own per container (the host\'s programs read-only, nothing else of the host)' : `sharing the host's network and files (${aws.ecs.isolationNote ?? 'namespaces unavailable'})`,
      async buildSnapshot(snapshot, repo) {
        const [owner = 'local', ...rest] = repo.slug.split('/');
        const url = pathToFileURL(snapshot.dir).href;
        // A directory built on this machine is activated by building it (the demo, `slipway run`):
        // the caller is the operator, not a webhook, and the snapshot is where it lives now. Trusted:
        // it is the operator's own working copy (a pipeline needing a Docker daemon then reaches the
        // stand-in, which says it has none, instead of the lint error that names --trusted).
        await store.activateRepository({ slug: repo.slug, scm: 'local', visibility: 'public', activatedAt: Date.now(), httpUrl: url, link: url, trusted: true });
        const hook: BuildHook = {
          kind: 'build',
          event: 'push',
          action: '',
          repo: { slug: repo.slug, owner, name: rest.join('/'), scm: 'local', httpUrl: url, link: url, defaultBranch: snapshot.branch, private: false, visibility: 'public' },
          commit: {
            sha: snapshot.sha,
            ref: `refs/heads/${snapshot.branch}`,
            branch: snapshot.branch,
            message: snapshot.message,
            link: url,
            author: { login: snapshot.author, name: snapshot.author, email: `${snapshot.author}@localhost`, avatar: '' },
          },
          sender: snapshot.author,
        };
        return submit({ version: 1, deliveryId: `local-${randomUUID()}`, host: 'local', receivedAt: Date.now(), hook });
      },
      async waitForBuild(id, onChange, timeoutMs = 10 * 60_000) {
        const deadline = Date.now() + timeoutMs;
        let last = '';
        for (;;) {
          const stored = await store.getBuildDetail(id);
          if (!stored) throw new Error(`local: build ${id} does not exist`);
          // As the API shows it: a running stage's clone and waiting steps as its agent's log says.
          const detail = await withAgentProgress(api, stored);
          const fingerprint = JSON.stringify([detail.status, detail.stages.map((s) => [s.status, s.steps.map((t) => t.status)])]);
          if (fingerprint !== last) {
            last = fingerprint;
            onChange?.(detail);
          }
          if (isFinished(detail.status)) return detail;
          if (Date.now() > deadline) throw new Error(`local: build ${id} did not finish within ${Math.round(timeoutMs / 1000)} s (status ${detail.status})`);
          await new Promise((r) => setTimeout(r, 250));
        }
      },
      stop: stopAll,
    };
    if (options.runToken) {
      const made = localRuns({ token: options.runToken, build: (snapshot, repo) => local.buildSnapshot(snapshot, repo), publicUrl: server.url });
      runs = made;
      cleanups.push(() => made.remove());
    }
    return local;
  } catch (err) {
    await stopAll().catch((stopErr: unknown) => console.error(`local: cleanup after a failed start: ${(stopErr as Error).message}`));
    throw err;
  }
}

/**
 * The registry of local mode: SLIPWAY_REGISTRY_PORT, else 5000 (the registry's usual port)
 * while it is free, else any free port; its login and the push rights of listed repositories.
 */
async function startLocalModeRegistry(env: NodeJS.ProcessEnv, pushRepositories: Record<string, string[]>): Promise<{ registry: ImageRegistry; login: RegistryLogin; rights: LocalPushRights }> {
  const home = slipwayHome(env);
  const login = localRegistryLogin(home);
  const port = env.SLIPWAY_REGISTRY_PORT ? { port: Number(env.SLIPWAY_REGISTRY_PORT) } : { preferredPort: 5000 };
  const registry = await startImageRegistry({ dir: join(home, 'registry'), htpasswd: htpasswdLine(login), ...port });
  const registries = [registry.host, `localhost:${registry.port}`, `${HOST_ALIAS}:${registry.port}`];
  return { registry, login, rights: localPushRights(pushRepositories, { registries, login }, LOCAL_ACCOUNT_ID) };
}

/** The route's answer: the build it started, or why not (a refusal's status, else 500 with the reason). */
async function answerLocalRun(runs: LocalRuns | undefined, body: string): Promise<ApiResponse> {
  if (!runs) return apiError(503, 'local run: the server is still starting');
  try {
    const result = await runs.handle(body);
    return { statusCode: 'skipped' in result ? 200 : 201, headers: { 'content-type': 'application/json' }, body: JSON.stringify(result) };
  } catch (err) {
    if (err instanceof LocalRunRefused) return apiError(err.status, err.message);
    return apiError(500, `local run: ${(err as Error).message}`);
  }
}
