// The doctor's decisions: each takes what one check observed and says ok, warn, fail or
// skipped, and what to fix. No I/O here: the CLI's probes observe, these judge.

import type { BuildStatus } from '../builds/types.js';
import type { Arch } from '../pipeline/types.js';
import { type DockerHubCacheObservation, dockerHubPrefix, START_P50_SECONDS } from './docker-hub-cache.js';
import type { ForkPullObservation } from './fork-pulls.js';
import { HELLO_REPO } from './hello.js';
import type { GitHostProbeAnswer, HelloAnswer } from './planner-probe.js';
import { CHECK_TITLES, type CheckId, type CheckResult, type CheckStatus } from './types.js';

const result = (id: CheckId, status: CheckStatus, detail: string, fix?: string): CheckResult => ({
  id,
  title: CHECK_TITLES[id],
  status,
  detail,
  ...(fix !== undefined ? { fix } : {}),
});

/** An HTTP answer, or why there was none. */
export type HttpObservation = { status: number; body: string } | { error: string };

function jsonField(body: string, field: string): string | undefined {
  try {
    const value = (JSON.parse(body) as Record<string, unknown>)[field];
    return typeof value === 'string' ? value : value === true ? 'true' : undefined;
  } catch {
    return undefined;
  }
}

// ---- the webhook --------------------------------------------------------------------------

export interface WebhookPingObservation {
  url: string;
  repo: string;
  answer: HttpObservation;
}

/**
 * GitHub sends `ping` when a hook is made (https://docs.github.com/en/webhooks/webhook-events-and-payloads#ping),
 * signed like every delivery; the webhook answers 200 `{"ping":true}` once the repository is
 * activated and the signature matches its secret (lambdas/webhook/handle-webhook.ts).
 */
export function judgeWebhookPing(o: WebhookPingObservation): CheckResult {
  const id = 'webhook-ping';
  if ('error' in o.answer) {
    return result(id, 'fail', `no answer from ${o.url}: ${o.answer.error}`, 'Check the WebhookUrlGitHub output of the stack (or that `slipway up` is running) and that this machine can reach it.');
  }
  const { status, body } = o.answer;
  if (status === 200 && jsonField(body, 'ping') === 'true') return result(id, 'ok', `${o.url} answered 200 to a ping for ${o.repo} signed with its secret`);
  const said = jsonField(body, 'error') ?? jsonField(body, 'ignored') ?? body.slice(0, 200);
  if (status === 200) {
    return result(id, 'fail', `${o.url} answered 200 but ignored the ping: ${said}`, `Activate the repository: slipway repo add ${o.repo} --host github`);
  }
  if (status === 401) {
    return result(
      id,
      'fail',
      `${o.url} refused the ping signed with ${o.repo}'s stored secret (401: ${said})`,
      `The stored secret and the webhook's disagree: slipway repo rotate-secret ${o.repo}, then paste the new secret into the repository's webhook.`,
    );
  }
  if (status === 503) return result(id, 'fail', `${o.url} answered 503: ${said}`, `slipway repo rotate-secret ${o.repo}, then paste the printed secret into the repository's webhook.`);
  if (status === 403) return result(id, 'fail', `${o.url} answered 403: ${said}`, `Add ${o.repo} to allowedRepositories (cdk deploy -c allowedRepositories=…), or leave the list empty.`);
  return result(id, 'fail', `${o.url} answered ${status}: ${said}`, "Look at the webhook function's log group for the error.");
}

// ---- the Git host ---------------------------------------------------------------------------

export type GitHostObservation = GitHostProbeAnswer | { kind: 'invoke-failed'; error: string };

export function judgeGitHost(o: GitHostObservation): CheckResult {
  const id = 'git-host';
  switch (o.kind) {
    case 'invoke-failed':
      return result(id, 'fail', `the planner did not answer: ${o.error}`, "Check that the planner function exists (PlannerFunctionName output) and look at its log group; the doctor needs lambda:InvokeFunction on it.");
    case 'not-activated':
      return result(id, 'fail', o.reason, `slipway repo add ${o.repo} --host HOST`);
    case 'local':
      return result(id, 'ok', `${o.repo} is a local repository, read from ${o.path}`);
    case 'not-configured':
      return result(id, 'fail', `${o.host}: ${o.reason}`, `Put the ${o.host} credentials into the SCM credentials secret (ScmCredentialsSecretArn; locally SCM_CREDENTIALS), as the README's "Connect your Git host" says.`);
    case 'unreachable':
      return result(
        id,
        'fail',
        `the planner could not reach ${o.apiUrl} for ${o.repo}: ${o.error}`,
        `Check the ${o.host} apiUrl in the SCM credentials; with privateSubnets the Lambdas reach only AWS (VPC endpoints), not a Git host outside the VPC.`,
      );
    case 'answered': {
      const where = `${o.host} answered ${o.status} for ${o.repo} at ${o.apiUrl}`;
      if (o.status >= 200 && o.status < 300) return result(id, 'ok', `${where}: the planner's credentials can read it`);
      const said = o.message ? `: ${o.message}` : '';
      if (o.status === 401) return result(id, 'fail', `${where}${said}`, `The ${o.host} token (or GitHub App key) was refused: put a valid one into the SCM credentials secret.`);
      if (o.status === 404) {
        return result(
          id,
          'fail',
          `${where}${said}`,
          o.host === 'github'
            ? 'The credentials cannot see the repository: give the token access to it (a fine-grained token: Contents read, Commit statuses read and write on this repository), or install the GitHub App on it.'
            : `The ${o.host} token cannot see the repository: give its user at least read (Reporter on GitLab) access and the scopes the README lists.`,
        );
      }
      if (o.status === 403 || o.status === 429) return result(id, 'fail', `${where}${said}`, 'Refused or rate-limited: check the token\'s scopes and the host\'s rate limit, then run the doctor again.');
      return result(id, 'fail', `${where}${said}`, `The ${o.host} API did not answer as expected; check its apiUrl in the SCM credentials.`);
    }
  }
}

// ---- RunTask -------------------------------------------------------------------------------

/** IAM policy simulation of the autoscaler's role (EvalDecision: allowed, explicitDeny, implicitDeny). */
export interface RunTaskSimulation {
  role: string;
  cluster: string;
  decisions: { action: string; resource: string; decision: string }[];
}

export function judgeRunTask(o: RunTaskSimulation | { error: string }): CheckResult {
  const id = 'run-task';
  if ('error' in o) {
    return result(id, 'warn', `could not simulate the autoscaler's policy: ${o.error}`, 'The doctor needs iam:SimulatePrincipalPolicy and lambda:GetFunctionConfiguration; run it with an administrator\'s credentials.');
  }
  if (o.decisions.length === 0) return result(id, 'fail', `the simulation of ${o.role} returned no decision`, 'Run the doctor again; if it persists, check the role in the IAM console.');
  const denied = o.decisions.filter((d) => d.decision !== 'allowed');
  if (denied.length === 0) return result(id, 'ok', `${o.role} may ${o.decisions.map((d) => d.action).join(', ')} for cluster ${o.cluster}`);
  return result(
    id,
    'fail',
    `${o.role} is refused ${denied.map((d) => `${d.action} on ${d.resource} (${d.decision})`).join('; ')}`,
    'An explicit deny (a permissions boundary, an SCP) or a changed role stops builds from starting: restore the role with cdk deploy, or lift the deny.',
  );
}

// ---- Fargate quota ----------------------------------------------------------------------------

export interface QuotaObservation {
  /** Service Quotas code (L-3032A538 on-demand, L-36FBB829 Spot). */
  code: string;
  value?: number;
  error?: string;
}

export interface FargateQuotaObservation {
  onDemand: QuotaObservation;
  spot: QuotaObservation;
  /** The stack's settings: the vCPU the autoscaler allows itself, Spot or not, a default task's CPU units. */
  vcpuQuota: number;
  useSpot: boolean;
  defaultCpu: number;
}

export function judgeFargateQuota(o: FargateQuotaObservation): CheckResult {
  const id = 'fargate-quota';
  const taskVcpu = o.defaultCpu / 1024;
  const check = (q: QuotaObservation, what: string): { status: CheckStatus; detail: string; fix?: string } => {
    if (q.value === undefined) {
      return { status: 'warn', detail: `${what} quota (${q.code}) unread: ${q.error ?? 'no value'}`, fix: 'The doctor needs servicequotas:GetServiceQuota.' };
    }
    if (q.value < taskVcpu) {
      return {
        status: 'fail',
        detail: `${what} quota is ${q.value} vCPU, less than one default task (${taskVcpu} vCPU)`,
        fix: `Request an increase of "${what} vCPU resource count" (${q.code}) in Service Quotas.`,
      };
    }
    if (o.vcpuQuota > q.value) {
      return {
        status: 'fail',
        detail: `the stack's vcpuQuota (${o.vcpuQuota}) is above the account's ${what} quota (${q.value} vCPU): Fargate would refuse tasks the autoscaler starts`,
        fix: `cdk deploy -c vcpuQuota=${Math.floor(q.value)}, or request an increase of ${q.code} in Service Quotas.`,
      };
    }
    const room = o.vcpuQuota < q.value ? ` (-c vcpuQuota=${Math.floor(q.value)} would use all of it)` : '';
    return { status: 'ok', detail: `${what} quota ${q.value} vCPU, vcpuQuota ${o.vcpuQuota}${room}` };
  };
  const parts = [check(o.onDemand, 'Fargate On-Demand')];
  // Spot-refused stages fall back to on-demand, so on-demand always matters; Spot only when used.
  if (o.useSpot) parts.push(check(o.spot, 'Fargate Spot'));
  const rank: Record<CheckStatus, number> = { ok: 0, skipped: 0, warn: 1, fail: 2 };
  const worst = parts.reduce((a, b) => (rank[b.status] > rank[a.status] ? b : a));
  const fix = parts.map((p) => p.fix).filter((f): f is string => f !== undefined);
  return result(id, worst.status, parts.map((p) => p.detail).join('; '), fix.length > 0 ? fix.join(' ') : undefined);
}

// ---- Lambda concurrency ----------------------------------------------------------------------

/** Lambda GetAccountSettings' AccountLimit. */
export interface LambdaConcurrencyObservation {
  concurrentExecutions: number;
  unreservedConcurrentExecutions: number;
}

/** Below this account limit a burst of webhooks can be throttled (AWS's usual default is 1,000; new accounts may start at 10). */
export const LAMBDA_CONCURRENCY_COMFORT = 100;

export function judgeLambdaConcurrency(o: LambdaConcurrencyObservation | { error: string }): CheckResult {
  const id = 'lambda-concurrency';
  if ('error' in o) return result(id, 'warn', `could not read the account's Lambda settings: ${o.error}`, 'The doctor needs lambda:GetAccountSettings.');
  const detail = `account limit ${o.concurrentExecutions} concurrent executions, ${o.unreservedConcurrentExecutions} unreserved`;
  if (o.concurrentExecutions < LAMBDA_CONCURRENCY_COMFORT) {
    return result(
      id,
      'warn',
      `${detail}: a burst of webhooks can be throttled, and GitHub does not redeliver a failed delivery by itself`,
      'Request an increase of AWS Lambda "Concurrent executions" in Service Quotas (1,000 is the usual default); with a limit of 10, deploy with -c autoscalerReservedConcurrency=false.',
    );
  }
  return result(id, 'ok', detail);
}

// ---- agent images -----------------------------------------------------------------------------

export interface AgentImageObservation {
  arch: Arch;
  uri: string;
  state: 'found' | 'missing' | 'error';
  detail?: string;
}

export function judgeAgentImages(o: { images: AgentImageObservation[] } | { error: string }): CheckResult {
  const id = 'agent-images';
  if ('error' in o) return result(id, 'warn', `could not look the agent images up: ${o.error}`, 'The doctor needs lambda:GetFunctionConfiguration on the planner and ecr:DescribeImages / ecr:BatchGetImage on the agent repository.');
  if (o.images.length === 0) return result(id, 'fail', 'the planner names no agent image', 'Deploy again (cdk deploy): the stack gives the planner one agent image per architecture.');
  const line = (i: AgentImageObservation) => `${i.arch}: ${i.state === 'found' ? 'found' : i.state}${i.detail ? ` (${i.detail})` : ''}`;
  const bad = o.images.filter((i) => i.state !== 'found');
  const absent = (['amd64', 'arm64'] as const).filter((arch) => !o.images.some((i) => i.arch === arch));
  const note = absent.length > 0 ? `; no ${absent.join(', ')} agent: such pipelines are refused with a message (agentPlatforms)` : '';
  const detail = `${o.images.map(line).join(', ')}${note}`;
  if (bad.length === 0) return result(id, 'ok', detail);
  return result(
    id,
    bad.some((i) => i.state === 'missing') ? 'fail' : 'warn',
    detail,
    `Missing agent images stop every ${bad.map((i) => i.arch).join('/')} build at start: deploy again (cdk deploy builds and pushes them), or push the agentImageUri image for ${bad.map((i) => `linux/${i.arch}`).join(' and ')}.`,
  );
}

// ---- the hello-world build ----------------------------------------------------------------------

export type HelloObservation =
  | { kind: 'not-planned'; reason: string }
  | { kind: 'invoke-failed'; error: string }
  | {
      kind: 'finished' | 'timed-out';
      answer: Extract<HelloAnswer, { kind: 'planned' }>;
      status: BuildStatus;
      seconds: number;
      /** The build's error, or its failed stages' messages. */
      messages: string[];
      /** Whether the step's log holds the greeting (undefined: not read). */
      greeted?: boolean;
    };

export function judgeHelloBuild(o: HelloObservation): CheckResult {
  const id = 'hello-build';
  if (o.kind === 'invoke-failed') return result(id, 'fail', `the planner did not plan the build: ${o.error}`, "Look at the planner function's log group.");
  if (o.kind === 'not-planned') return result(id, 'fail', `the planner planned no build: ${o.reason}`, 'Check allowedRepositories: the doctor builds the repository ' + HELLO_REPO + '.');
  const which = `${o.answer.repo} #${o.answer.number}`;
  const said = o.messages.length > 0 ? `: ${o.messages.join('; ')}` : '';
  if (o.kind === 'timed-out') {
    return result(
      id,
      'fail',
      `${which} was still ${o.status} after ${o.seconds} s${said}`,
      `See why with: slipway build ${o.answer.number} --repo ${o.answer.repo} (a stage queued for long: capacity or quota; provisioning: image pulls, subnets without internet).`,
    );
  }
  if (o.status !== 'success') {
    return result(id, 'fail', `${which} ended ${o.status} after ${o.seconds} s${said}`, `slipway build ${o.answer.number} --repo ${o.answer.repo} and slipway logs ${o.answer.number} hello --repo ${o.answer.repo} show what happened.`);
  }
  if (o.greeted === false) return result(id, 'fail', `${which} succeeded in ${o.seconds} s, but its log lacks the greeting`, 'Check the build log group (BuildLogGroup): the step\'s output did not reach it.');
  return result(id, 'ok', `${which} succeeded in ${o.seconds} s${o.greeted ? ', its log says hello' : said}`);
}

// ---- the report --------------------------------------------------------------------------------

const MARKS: Record<CheckStatus, string> = { ok: '✓', warn: '!', fail: '✗', skipped: '-' };

export function formatReport(checks: readonly CheckResult[]): string {
  const lines: string[] = [];
  for (const c of checks) {
    lines.push(`${MARKS[c.status]} ${c.status.padEnd(7)} ${c.title}`);
    lines.push(`          ${c.detail}`);
    if (c.fix) lines.push(`          fix: ${c.fix}`);
  }
  const count = (s: CheckStatus) => checks.filter((c) => c.status === s).length;
  lines.push('', `${count('ok')} ok, ${count('warn')} warning(s), ${count('fail')} failed, ${count('skipped')} skipped`);
  return lines.join('\n');
}

// ---- what a fork's execution role may pull ------------------------------------------------------

export function judgeForkPulls(o: { repositories: ForkPullObservation[] } | { error: string }): CheckResult {
  const id = 'fork-pulls';
  if ('error' in o) {
    return result(id, 'warn', `could not list the agent's repository: ${o.error}`, "The doctor needs ecr:ListImages on the agent's repository (and the image builder's, when in ECR).");
  }
  if (o.repositories.length === 0) return result(id, 'ok', 'the agent is in no ECR repository of a Slipway role: a fork pulls it anonymously');
  const crowded = o.repositories.filter((r) => r.others > 0);
  const names = o.repositories.map((r) => r.repository.repository).join(', ');
  if (crowded.length === 0) return result(id, 'ok', `${names} ${o.repositories.length > 1 ? 'hold' : 'holds'} only the images the stack runs`);
  const detail = crowded
    .map((r) => `${r.repository.repository} holds ${r.truncated ? 'at least ' : ''}${r.others} other tagged image${r.others === 1 ? '' : 's'} (${r.sample.join(', ')}${r.others > r.sample.length ? ', …' : ''})`)
    .join('; ');
  const assets = crowded.some((r) => r.repository.cdkAssets);
  return result(
    id,
    'warn',
    `${detail}, which the execution role of pull requests from forks may pull: ECR grants pulls per repository, not per image; the compiler refuses them in a fork's pipeline`,
    assets
      ? "The agent built by the stack shares CDK's asset repository with every container asset of the account's CDK apps: push the agent to a repository of its own and deploy with agentImageUri (see the README, \"Private images\"), so that IAM refuses the rest too."
      : 'Keep only the agent (and image builder) images in that repository, or give them a repository of their own (agentImageUri, imageBuilder).',
  );
}

// ---- Docker Hub through the cache ---------------------------------------------------------------

/**
 * A warning, not a failure: builds run without the rule, but every Docker Hub image is pulled
 * anonymously from outside the Region. Docker Hub allows unauthenticated users 10 pulls per hour
 * per IPv4 address or IPv6 /64 subnet (https://docs.docker.com/docker-hub/usage/); AWS told its
 * customers to expect throttling errors when they pull public Docker Hub images
 * (https://aws.amazon.com/blogs/containers/advice-for-customers-dealing-with-docker-hub-rate-limits-and-a-coming-soon-announcement/).
 */
export function judgeDockerHubCache(o: DockerHubCacheObservation): CheckResult {
  const id = 'docker-hub-cache';
  if ('error' in o) return result(id, 'warn', `could not tell whether Docker Hub images come through the cache: ${o.error}`, 'Deploy again (cdk deploy): the stack writes the planner\'s cache rules.');
  const prefix = 'rules' in o ? dockerHubPrefix(o.rules) : undefined;
  if (prefix !== undefined) return result(id, 'ok', `Docker Hub images are pulled through the cache rule ${prefix}/ in the stack's Region, with the stored Docker Hub credentials`);
  const { withoutDockerHubRule: without, withDockerHubRule: withRule } = START_P50_SECONDS;
  const what = 'rules' in o ? 'no Docker Hub pull-through cache rule is deployed (no dockerHubCredentialsSecretArn)' : 'no pull-through cache rule is deployed (pullThroughCache is false)';
  return result(
    id,
    'warn',
    `${what}: Docker Hub images (node:20, postgres:16, …) are pulled as written, anonymously, from outside the Region. ` +
      'Docker Hub allows 10 anonymous pulls per hour per IPv4 address (https://docs.docker.com/docker-hub/usage/): past it a pull fails with toomanyrequests and its stage ends in error. ' +
      `And starts are slower: push → first step of a postgres + node pipeline is ${without} s at p50 against ${withRule} s through the cache (npm run bench -- start-model).`,
    'Store a Docker Hub user and access token (of an account that sees only public images) in a Secrets Manager secret named ecr-pullthroughcache/docker-hub in the stack\'s account and Region ' +
      '(aws secretsmanager create-secret --name ecr-pullthroughcache/docker-hub --secret-string \'{"username":"…","accessToken":"…"}\'), ' +
      `then deploy with -c dockerHubCredentialsSecretArn=<its ARN>${'noCache' in o ? ' and pullThroughCache left true' : ''} (README: "Images through the cache"; https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache-creating-rule.html).`,
  );
}
