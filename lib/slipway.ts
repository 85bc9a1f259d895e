// Slipway as a reusable construct (embed it in any CDK app) and as a ready stack with its
// outputs (what bin/app.ts deploys). It wires one construct per concern.
import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { AlarmNotifications } from './alarm-notifications.js';
import { type AgentImageSource, BuildCluster } from './build-cluster.js';
import { DEFAULT_SETTINGS, type SlipwaySettings } from './config.js';
import { DashboardHosting, type MissingDashboard, checkDashboardBuild } from './dashboard-hosting.js';
import { ControlPlaneFunctions, type LambdaName, PLANNER_TIMEOUT, defaultEntries } from './functions.js';
import { Network } from './network.js';
import { PullThroughCacheRules } from './pull-through-cache.js';
import { CREDENTIALED_RULE_PREFIXES, withoutCredentialedRules } from '../core/pipeline/pull-through-cache.js';
import { SociIndexes, connectSociIndexes } from './soci-indexes.js';
import { Ec2Capacity, connectEc2Capacity } from './ec2-capacity.js';
import { nudgeOnInstanceRegistration } from './instance-registration-nudge.js';
import { Queues } from './queues.js';
import { SnapshotBucket } from './snapshot-bucket.js';
import { BuildTable } from './table.js';

/** The repository this file lives in: where the Lambdas, the agent and the dashboard are. */
export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * The agent image's build context is the project root; Docker reads the context filter from
 * `task-runner/Dockerfile.dockerignore`, and the asset's fingerprint must use the same
 * filter (else unrelated edits would rebuild the image, and hashing node_modules is slow).
 */
export function agentContextExclude(root: string): string[] {
  const ignoreFile = join(root, 'task-runner', 'Dockerfile.dockerignore');
  if (!existsSync(ignoreFile)) return AGENT_CONTEXT_EXCLUDE;
  return readFileSync(ignoreFile, 'utf8')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/** Fallback filter when the Dockerfile has no ignore file: heavy, or not the agent's business. */
export const AGENT_CONTEXT_EXCLUDE = [
  '.git',
  'node_modules',
  '**/node_modules',
  'cdk.out',
  'dist',
  'web',
  'test',
  'bench',
  'docs',
  'coverage',
  '.slipway',
  '*.log',
];

export interface SlipwayProps extends Partial<SlipwaySettings> {
  /** The npm project holding the Lambda entries (default: this repository). */
  readonly projectRoot?: string;
  /** Lambda entry files, default `lambdas/<name>/handler.ts` under the project root. */
  readonly entries?: Partial<Record<LambdaName, string>>;
  /** Default: built from `task-runner/Dockerfile` (context: the project root) at deploy. */
  readonly agentImage?: AgentImageSource;
  /** The dashboard's build output, default `web/dist` under the project root. */
  readonly dashboardDir?: string;
  /** Default `fail`: see MissingDashboard. */
  readonly dashboardWhenMissing?: MissingDashboard;
}

export class Slipway extends Construct {
  readonly settings: SlipwaySettings;
  readonly network: Network;
  readonly queues: Queues;
  readonly table: BuildTable;
  readonly buildCluster: BuildCluster;
  readonly functions: ControlPlaneFunctions;
  readonly dashboard: DashboardHosting;
  readonly alarms: AlarmNotifications;
  readonly snapshots: SnapshotBucket;
  /** Optional EC2 capacity (settings.ec2Capacity): off by default. */
  readonly ec2Capacity: Ec2Capacity | undefined;
  /** SOCI-enabled copies of large cached images (settings.sociReleaseSha256, with the stack's cache rules): off by default. */
  readonly sociIndexes: SociIndexes | undefined;

  constructor(scope: Construct, id: string, props: SlipwayProps = {}) {
    super(scope, id);
    const root = props.projectRoot ?? PROJECT_ROOT;
    const settings: SlipwaySettings = {
      ...DEFAULT_SETTINGS,
      ...definedOnly(pick(props, Object.keys(DEFAULT_SETTINGS) as (keyof SlipwaySettings)[])),
    };
    this.settings = settings;
    // Logs and data follow the table's protection: protected deployments keep them.
    const dashboardDir = props.dashboardDir ?? join(root, 'web', 'dist');
    const dashboardWhenMissing = props.dashboardWhenMissing ?? 'fail';
    // Before anything slow (bundling): a missing dashboard build fails at once.
    checkDashboardBuild(dashboardDir, dashboardWhenMissing);
    const removalPolicy = settings.deletionProtection ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const logRetention = settings.logRetentionDays;

    this.network = new Network(this, 'Network', { privateSubnets: settings.privateSubnets, logRetention, removalPolicy });
    this.table = new BuildTable(this, 'Table', { deletionProtection: settings.deletionProtection });
    const cacheRules = settings.pullThroughCache
      ? new PullThroughCacheRules(this, 'PullThroughCache', {
          dockerHubCredentialsSecretArn: settings.dockerHubCredentialsSecretArn,
          ghcrCredentialsSecretArn: settings.ghcrCredentialsSecretArn,
          gitlabRegistryCredentialsSecretArn: settings.gitlabRegistryCredentialsSecretArn,
        })
      : undefined;
    this.buildCluster = new BuildCluster(this, 'BuildCluster', {
      vpc: this.network.vpc,
      agentImage: props.agentImage ?? { directory: root, file: 'task-runner/Dockerfile', exclude: agentContextExclude(root), platforms: settings.agentPlatforms },
      logRetention,
      removalPolicy,
      secretsPrefix: settings.secretsPrefix,
      cloneTokensPrefix: settings.cloneTokensPrefix,
      allowedRepositories: settings.allowedRepositories,
      pullRepositories: settings.pullRepositories,
      pullThroughCachePrefixes: [...settings.pullThroughCachePrefixes, ...Object.values(cacheRules?.prefixes ?? {})],
      // A fork's pull request pulls through no rule with credentials, nor through the operator's
      // own rules, whose credentials the stack cannot see.
      forkRefusedCachePrefixes: [...CREDENTIALED_RULE_PREFIXES, ...settings.pullThroughCachePrefixes],
      // What it pulls instead: the stack's rules without credentials, the builder, the operator's list.
      forkCachePrefixes: Object.values(withoutCredentialedRules({ registry: '', prefixes: cacheRules?.prefixes ?? {} }).prefixes),
      forkPullRepositories: settings.forkPullRepositories,
      ...(settings.imageBuilder ? { forkPullImages: [settings.imageBuilder] } : {}),
      imagePushRepositories: settings.imagePushRepositories,
    });
    this.queues = new Queues(this, 'Queues', { plannerTimeout: PLANNER_TIMEOUT });
    // Pipelines over ECS's 10 containers run as consecutive tasks that hand the workspace on through it.
    this.snapshots = new SnapshotBucket(this, 'Snapshots', { removalPolicy, signerKeyVersion: settings.snapshotSignerKeyVersion });
    this.functions = new ControlPlaneFunctions(this, 'Functions', {
      entries: { ...defaultEntries(root), ...definedOnly(props.entries ?? {}) },
      table: this.table,
      queues: this.queues,
      network: this.network,
      buildCluster: this.buildCluster,
      snapshots: this.snapshots,
      settings: { ...settings, ...(cacheRules ? { pullThroughCacheRules: cacheRules.prefixes } : {}) },
      logRetention,
      removalPolicy,
      autoscalerReservedConcurrency: settings.autoscalerReservedConcurrency,
    });
    const ownPrefixes = Object.values(cacheRules?.prefixes ?? {});
    this.sociIndexes =
      settings.sociReleaseSha256 && ownPrefixes.length > 0
        ? new SociIndexes(this, 'SociIndexes', {
            cluster: this.buildCluster.cluster,
            logGroup: this.buildCluster.logGroup,
            jobsQueue: this.queues.jobs.queue,
            cachePrefixes: ownPrefixes,
            converterDirectory: join(root, 'task-runner', 'soci-converter'),
            releaseSha256: settings.sociReleaseSha256,
          })
        : undefined;
    if (this.sociIndexes) connectSociIndexes(this.sociIndexes, this.functions.functions, this.buildCluster, ownPrefixes);
    this.dashboard = new DashboardHosting(this, 'Dashboard', {
      assetDir: dashboardDir,
      whenMissing: dashboardWhenMissing,
      apiUrl: this.functions.apiUrl,
    });
    this.functions.setPublicUrl(this.dashboard.url);
    this.alarms = new AlarmNotifications(this, 'Alarms', { alarmsUnder: this, ...(settings.alarmEmail ? { email: settings.alarmEmail } : {}) });
    this.ec2Capacity = settings.ec2Capacity
      ? new Ec2Capacity(this, 'Ec2Capacity', {
          cluster: this.buildCluster.cluster,
          vpc: this.network.vpc,
          subnets: this.network.subnets,
          publicIp: this.network.assignPublicIp === 'ENABLED',
          logGroup: this.buildCluster.logGroup,
          settings: settings.ec2Capacity,
          prepull: {
            agentImages: this.buildCluster.agentImages,
            agentRepositories: this.buildCluster.agentRepositories,
            cachePrefixes: [...settings.pullThroughCachePrefixes, ...Object.values(cacheRules?.prefixes ?? {})],
          },
        })
      : undefined;
    if (this.ec2Capacity) {
      connectEc2Capacity(this.ec2Capacity, this.functions.functions, this.buildCluster.cluster);
      // In isolated subnets the instances reach ECS, Auto Scaling and the build tasks' endpoints through VPC endpoints.
      this.network.admitContainerInstances(this.ec2Capacity.securityGroup, { launchHook: this.ec2Capacity.launchHook });
      nudgeOnInstanceRegistration(this, this.buildCluster.cluster, this.functions.functions.autoscaler);
    }
  }
}

export interface SlipwayStackProps extends StackProps {
  readonly slipway?: SlipwayProps;
}

/** The deployable stack: Slipway plus the outputs an operator needs after `cdk deploy`. */
export class SlipwayStack extends Stack {
  readonly slipway: Slipway;

  constructor(scope: Construct, id: string, props: SlipwayStackProps = {}) {
    super(scope, id, { description: 'Slipway: serverless CI (.drone.yml pipelines on ECS Fargate)', ...props });
    const s = (this.slipway = new Slipway(this, 'Slipway', props.slipway));
    const f = s.functions;
    const out = (id: string, value: string, description: string) => new CfnOutput(this, id, { value, description });
    // One function URL serves every Git host; the path names the host.
    out('WebhookUrlGitHub', `${f.webhookUrl.url}hooks/github`, 'Payload URL for GitHub webhooks (content type application/json)');
    out('WebhookUrlGitea', `${f.webhookUrl.url}hooks/gitea`, 'Target URL for Gitea webhooks');
    out('WebhookUrlGitLab', `${f.webhookUrl.url}hooks/gitlab`, 'URL for GitLab webhooks');
    out('WebhookSecretsPrefix', s.settings.webhookSecretsPrefix, 'SSM path of the repositories\' own webhook secrets (made by `slipway repo add`, read only by the webhook)');
    out('ScmCredentialsSecretArn', f.scmCredentialsSecret.secretArn, 'Secrets Manager secret to fill with Git host API tokens and clone tokens (JSON, see the README)');
    out('DashboardUrl', s.dashboard.url, 'The web dashboard');
    out('ApiUrl', `${s.dashboard.url}api/`, 'The builds API (Authorization: Bearer <token>)');
    out('ApiTokenSecretArn', f.apiTokenSecret.secretArn, 'Secrets Manager secret holding the API bearer token');
    out('ClusterName', s.buildCluster.cluster.clusterName, 'ECS cluster running the builds');
    out('PlannerFunctionName', f.functions.planner.functionName, 'The planner function: `slipway doctor` asks it to reach the Git host and to plan a hello-world build');
    out('AlarmTopicArn', s.alarms.topic.topicArn, 'SNS topic every Slipway alarm notifies (subscribe to it, or set -c alarmEmail=…)');
    out('BuildLogGroup', s.buildCluster.logGroup.logGroupName, 'CloudWatch Logs group of the builds');
  }
}

function pick<T extends object, K extends keyof T>(value: T, keys: K[]): Partial<Pick<T, K>> {
  return Object.fromEntries(keys.filter((k) => k in value).map((k) => [k, value[k]])) as Partial<Pick<T, K>>;
}

/** Drops keys whose value is undefined, so they do not override defaults in a spread. */
function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
