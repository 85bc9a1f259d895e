// `slipway doctor [--local]`: after `cdk deploy` (or `slipway up`), checks the live stack as a
// support engineer would, each check printing ok or what to fix. The I/O is here and in
// adapters/doctor/; the decisions are core/doctor/judge.ts's. Exit 0 when nothing failed.

import { randomUUID } from 'node:crypto';
import { ECRClient } from '@aws-sdk/client-ecr';
import { IAMClient } from '@aws-sdk/client-iam';
import { ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import { FARGATE_QUOTA_CODES, ecrManifest, ecrTaggedImages, fargateQuota, lambdaConcurrency, simulateRunTask } from '../../adapters/doctor/aws.js';
import { deliver } from '../../adapters/doctor/http.js';
import { agentImagesToCheck, observeManifest } from '../../core/doctor/agent-images.js';
import { observeDockerHubCache } from '../../core/doctor/docker-hub-cache.js';
import { type ForkPullObservation, forkPullRepositoriesOf, observeForkPulls } from '../../core/doctor/fork-pulls.js';
import { HELLO_REPO } from '../../core/doctor/hello.js';
import {
  type AgentImageObservation,
  type GitHostObservation,
  formatReport,
  judgeAgentImages,
  judgeDockerHubCache,
  judgeFargateQuota,
  judgeForkPulls,
  judgeGitHost,
  judgeHelloBuild,
  judgeLambdaConcurrency,
  judgeRunTask,
  judgeWebhookPing,
} from '../../core/doctor/judge.js';
import { githubPing } from '../../core/doctor/ping.js';
import type { GitHostProbeAnswer } from '../../core/doctor/planner-probe.js';
import { CHECK_TITLES, type CheckId, type CheckResult, type DoctorReport, skipped } from '../../core/doctor/types.js';
import type { Repository } from '../../core/builds/types.js';
import { ENV } from '../../core/config/lambda-env.js';
import type { WebhookSecrets } from '../../lambdas/shared/webhook-secrets.js';
import { type ApiClient, DEFAULT_SERVER } from '../client.js';
import { parse, positiveInt } from '../command-kit.js';
import { EXIT, type CliIO } from '../io.js';
import { helloBuild } from '../doctor/hello-build.js';
import { type Target, TargetError, askPlanner, awsTarget, localTarget } from '../doctor/target.js';

const USAGE = `usage: slipway doctor [--local] [--stack NAME] [--repo OWNER/NAME] [--no-build] [--timeout SECONDS] [--json]

Checks a deployed Slipway (the CloudFormation stack NAME, default Slipway, with your AWS
credentials) or, with --local, the one \`slipway up\` runs (SLIPWAY_SERVER, default the one
running on this machine, else ${DEFAULT_SERVER}): the webhook answers a ping signed with a repository's secret, the
planner reaches that repository's Git host, the autoscaler may run tasks, the account's
Fargate vCPU and Lambda concurrency quotas, the agent image of each architecture, what else
its repository holds that forks' execution role may pull, whether Docker Hub images come
through the account's pull-through cache, and a hello-world build
(repository ${HELLO_REPO}) that must end in success.

options:
  --local             check the local stack instead of AWS
  --stack NAME        the stack's name (default Slipway, or SLIPWAY_STACK)
  --repo OWNER/NAME   the repository to ping and reach (default SLIPWAY_REPO, else the first
                      activated one; the ping needs a GitHub repository)
  --no-build          skip the hello-world build
  --timeout SECONDS   how long the hello-world build may take (default 600)
  --json              print the report as JSON
  -h, --help          show this help

The API token is SLIPWAY_TOKEN, else read from the stack's ApiTokenSecretArn.
exit status: 0 nothing failed (warnings and skips allowed), 1 a check failed, 2 usage error`;


export async function run(args: string[], io: CliIO): Promise<number> {
  const p = parse(
    'doctor',
    args,
    { local: { type: 'boolean' }, stack: { type: 'string' }, repo: { type: 'string' }, 'no-build': { type: 'boolean' }, timeout: { type: 'string' }, json: { type: 'boolean' } },
    USAGE,
    io,
  );
  if (!p) return EXIT.usage;
  if (p.values.help) return io.out(USAGE), EXIT.ok;
  if (p.positionals.length > 0) return io.err(`slipway doctor: unexpected argument "${p.positionals[0]}"\n${USAGE}`), EXIT.usage;
  const timeoutText = p.values.timeout as string | undefined;
  const timeoutSeconds = timeoutText === undefined ? 600 : positiveInt(timeoutText);
  if (timeoutSeconds === undefined) return io.err(`slipway doctor: --timeout wants a number of seconds, got "${timeoutText}"\n${USAGE}`), EXIT.usage;
  const repoFlag = (p.values.repo as string | undefined) ?? io.env.SLIPWAY_REPO;
  if (repoFlag !== undefined && !/^[^/\s]+\/\S+$/.test(repoFlag)) return io.err(`slipway doctor: --repo "${repoFlag}" must be OWNER/NAME\n${USAGE}`), EXIT.usage;
  const json = Boolean(p.values.json);
  const progress = (line: string) => (json ? undefined : io.err(line));

  let target: Target;
  try {
    target = p.values.local ? localTarget(io.env) : await awsTarget((p.values.stack as string | undefined) ?? io.env.SLIPWAY_STACK ?? 'Slipway', io.env);
  } catch (err) {
    io.err(`slipway doctor: ${(err as Error).message}`);
    return EXIT.failed;
  }

  const checks: CheckResult[] = [];
  const guard = async (id: CheckId, check: () => Promise<CheckResult>) => {
    progress(`checking ${CHECK_TITLES[id]}…`);
    try {
      checks.push(await check());
    } catch (err) {
      checks.push({ id, title: CHECK_TITLES[id], status: 'fail', detail: `the check itself failed: ${(err as Error).message}`, fix: 'Fix what the message says (credentials, network), then run the doctor again.' });
    }
  };

  // Which repository to ping and reach: --repo, else the activated ones (the API's list).
  const repos = await activatedRepositories(target.api).catch((err: Error) => err);
  const listed = (): Repository[] => {
    if (repos instanceof Error) throw new Error(`cannot list the activated repositories (${repos.message}); pass --repo OWNER/NAME`);
    return repos;
  };
  await guard('webhook-ping', async () => {
    const repo = repoFlag ?? listed().find((r) => r.scm === 'github')?.slug;
    if (!repo) return skipped('webhook-ping', 'no GitHub repository is activated (Gitea and GitLab send no ping event); pass --repo or run slipway repo add OWNER/NAME --host github');
    const secret = await target.secrets.get('github', repo);
    // Its host: the list says (it may lag a new activation), else where its secret is.
    const listedHost = repos instanceof Error ? undefined : repos.find((r) => r.slug === repo)?.scm;
    const host = secret !== undefined ? 'github' : (listedHost ?? (await hostWithSecret(target.secrets, repo)));
    if (host !== undefined && host !== 'github') return skipped('webhook-ping', `${repo} is a ${host} repository: only GitHub sends a ping event`);
    if (secret === undefined) {
      return { id: 'webhook-ping', title: CHECK_TITLES['webhook-ping'], status: 'fail', detail: `${repo} has no stored webhook secret`, fix: `slipway repo add ${repo} --host github (or repo rotate-secret ${repo}), then paste the secret into its webhook` };
    }
    return judgeWebhookPing({ url: target.webhookUrl, repo, answer: await deliver(target.webhookUrl, githubPing(repo, secret, `doctor-${randomUUID()}`)) });
  });

  await guard('git-host', async () => {
    const repo = repoFlag ?? listed().find((r) => r.slug !== HELLO_REPO && r.scm !== 'local')?.slug;
    if (!repo) return skipped('git-host', 'no repository of a Git host is activated; pass --repo or run slipway repo add');
    let observed: GitHostObservation;
    try {
      observed = (await askPlanner(target, { slipwayDoctor: 'git-host', repo })) as GitHostProbeAnswer;
    } catch (err) {
      observed = { kind: 'invoke-failed', error: (err as Error).message };
    }
    return judgeGitHost(observed);
  });

  await guard('run-task', async () => {
    if (!target.autoscaler) return skipped('run-task', 'the local ECS stand-in has no IAM: any caller may run tasks there');
    const env = target.autoscaler.env;
    const cluster = env[ENV.cluster];
    if (!cluster) throw new TargetError('the autoscaler has no CLUSTER in its environment');
    const [, partition, , region, account] = target.autoscaler.roleArn.split(':');
    const clusterArn = cluster.startsWith('arn:') ? cluster : `arn:${partition}:ecs:${region || (await target.lambda.config.region())}:${account}:cluster/${cluster}`;
    const clusterRegion = clusterArn.split(':')[3]!;
    try {
      const sim = await simulateRunTask(new IAMClient({}), {
        roleArn: target.autoscaler.roleArn,
        clusterArn,
        // Slipway's families are slipway-<pipeline>-<hash> (core/pipeline/family.ts): a name of that shape.
        taskDefinitionArn: `arn:${partition}:ecs:${clusterRegion}:${account}:task-definition/slipway-doctor-0:1`,
        // The fork roles too: RunTask's overrides of a fork's stages (lambdas/autoscaler/start-stage.ts runTaskInput).
        passRoles: [env[ENV.taskExecutionRoleArn], env[ENV.taskRoleArn], env[ENV.forkTaskExecutionRoleArn], env[ENV.forkTaskRoleArn]].filter((r): r is string => Boolean(r)),
      });
      return judgeRunTask(sim);
    } catch (err) {
      return judgeRunTask({ error: `${(err as Error).name}: ${(err as Error).message}` });
    }
  });

  await guard('fargate-quota', async () => {
    if (!target.autoscaler) return skipped('fargate-quota', 'local tasks are host processes: no Fargate vCPU quota applies, and there is no Service Quotas stand-in');
    const env = target.autoscaler.env;
    const quotas = new ServiceQuotasClient({});
    const [onDemand, spot] = await Promise.all([fargateQuota(quotas, FARGATE_QUOTA_CODES.onDemand), fargateQuota(quotas, FARGATE_QUOTA_CODES.spot)]);
    return judgeFargateQuota({ onDemand, spot, vcpuQuota: Number(env[ENV.vcpuQuota] ?? 6), useSpot: env[ENV.useSpot] === 'true', defaultCpu: Number(env[ENV.defaultCpu] ?? 1024) });
  });

  await guard('lambda-concurrency', async () => {
    if (target.kind === 'local') return skipped('lambda-concurrency', 'local mode runs the handlers inside the `slipway up` process: no Lambda concurrency applies');
    try {
      return judgeLambdaConcurrency(await lambdaConcurrency(target.lambda));
    } catch (err) {
      return judgeLambdaConcurrency({ error: `${(err as Error).name}: ${(err as Error).message}` });
    }
  });

  await guard('agent-images', async () => {
    if (!target.plannerEnv) return skipped('agent-images', 'local tasks run the agent from task-runner/ on this machine: there is no agent image');
    const images: AgentImageObservation[] = [];
    try {
      for (const image of agentImagesToCheck(target.plannerEnv)) {
        const where = image.ecr;
        if ('notEcr' in where) {
          images.push(...image.arches.map((arch) => ({ arch, uri: image.uri, state: 'error' as const, detail: `not looked up: ${where.notEcr}` })));
          continue;
        }
        images.push(...observeManifest(image, await ecrManifest(new ECRClient({ region: where.region }), where)));
      }
    } catch (err) {
      return judgeAgentImages({ error: `${(err as Error).name}: ${(err as Error).message}` });
    }
    return judgeAgentImages({ images });
  });

  await guard('fork-pulls', async () => {
    if (!target.plannerEnv) return skipped('fork-pulls', 'local tasks pull no image with an execution role: there is no fork execution role');
    const repositories: ForkPullObservation[] = [];
    try {
      for (const repository of forkPullRepositoriesOf(target.plannerEnv)) {
        const listed = await ecrTaggedImages(new ECRClient({ region: repository.region }), repository);
        repositories.push(observeForkPulls(repository, listed.images, listed.truncated));
      }
    } catch (err) {
      return judgeForkPulls({ error: `${(err as Error).name}: ${(err as Error).message}` });
    }
    return judgeForkPulls({ repositories });
  });

  await guard('docker-hub-cache', async () => {
    if (!target.plannerEnv) return skipped('docker-hub-cache', 'local mode pulls no image: the ECS stand-in runs images as host programs');
    return judgeDockerHubCache(observeDockerHubCache(target.plannerEnv));
  });

  if (p.values['no-build']) checks.push(skipped('hello-build', 'not asked for (--no-build)'));
  else await guard('hello-build', async () => judgeHelloBuild(await helloBuild(target, timeoutSeconds, progress)));

  const report: DoctorReport = { ok: !checks.some((c) => c.status === 'fail'), target: target.kind, checks };
  io.out(json ? JSON.stringify(report, null, 2) : formatReport(checks));
  return report.ok ? EXIT.ok : EXIT.failed;
}

async function hostWithSecret(secrets: WebhookSecrets, repo: string): Promise<string | undefined> {
  for (const host of ['gitea', 'gitlab'] as const) if ((await secrets.get(host, repo)) !== undefined) return host;
  return undefined;
}

async function activatedRepositories(api: ApiClient): Promise<Repository[]> {
  const out: Repository[] = [];
  let page = await api.repos(100);
  out.push(...page.repos);
  // One more page at most: the doctor needs one repository, not a census.
  if (page.next) page = await api.repos(100), out.push(...page.repos);
  return out.filter((r) => r.active);
}
