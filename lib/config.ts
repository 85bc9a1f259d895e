// Slipway's deployment settings: their defaults, and how they are read from CDK context
// (`cdk.json` "context" or `cdk deploy -c key=value`). Context values given on the command
// line are strings, values in cdk.json keep their JSON type: both are accepted.
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { AgentArch } from './build-cluster.js';
import type { MissingDashboard } from './dashboard-hosting.js';
import { type PriceOverride, PriceOverrideError, checkPriceOverride } from '../core/cost/price-table.js';
import { isEcrRepositoryName } from '../core/images/ecr-repository-name.js';
import { type Ec2CapacitySettings, ec2CapacityFromContext } from './ec2-capacity.js';

export interface SlipwaySettings {
  /** Builds (ECS tasks) running at once, across repositories. */
  readonly maxConcurrentBuilds: number;
  /** The account's Fargate vCPU quota the autoscaler must stay under (AWS default: 6). */
  readonly vcpuQuota: number;
  /** Run builds on Fargate Spot (about 70 % cheaper; an interrupted stage is retried on demand). */
  readonly useSpot: boolean;
  /**
   * Ping the webhook and the planner every 5 minutes (lib/functions/keep-warm.ts) so that a push
   * meets no cold start. Off by default: it invokes them while idle (cents a month).
   */
  readonly keepWarm: boolean;
  /** Task CPU units and memory (MiB) of a pipeline that asks for nothing. */
  readonly defaultCpu: number;
  readonly defaultMemory: number;
  /** Retention of every log group (builds, Lambdas, flow logs). */
  readonly logRetentionDays: RetentionDays;
  /** `owner/name` repositories allowed to build; empty: every repository that sends a signed webhook. */
  readonly allowedRepositories: readonly string[];
  /** Private isolated subnets with VPC endpoints (costs money while idle) instead of public subnets. */
  readonly privateSubnets: boolean;
  /** DynamoDB deletion protection; also keeps the table and log groups when the stack is deleted. */
  readonly deletionProtection: boolean;
  /** SSM prefix of repository secrets: `<prefix>/<owner>/<repo>/<NAME>`. */
  readonly secretsPrefix: string;
  /**
   * SSM prefix of each activated repository's webhook secret: `<prefix>/<host>/<owner>/<name>`.
   * Only the webhook Lambda reads under it (build tasks read under secretsPrefix), so the two
   * may not contain each other.
   */
  readonly webhookSecretsPrefix: string;
  /**
   * SSM prefix of the GitHub App clone tokens: `<prefix>/github/<owner>/<name>`, written by the
   * autoscaler when a stage starts, read by ECS for the agent. Apart from secretsPrefix (a
   * step's `from_secret` reads there) and webhookSecretsPrefix.
   */
  readonly cloneTokensPrefix: string;
  /** 1 by default (two passes never race); `false` for accounts whose Lambda concurrency quota is 10. */
  readonly autoscalerReservedConcurrency: number | false;
  /** Architectures the agent image is built for at deploy (pipelines of another `platform.arch` are refused). */
  readonly agentPlatforms: readonly AgentArch[];
  /** ECR repository ARNs build tasks may pull from (wildcards allowed); empty: every repository of the account and region. */
  readonly pullRepositories: readonly string[];
  /** Repository prefixes of the account's ECR pull-through cache rules (e.g. `docker-hub`); empty: none. */
  readonly pullThroughCachePrefixes: readonly string[];
  /**
   * ECR repository names in this account and Region (`*` any characters, e.g. `mirror/*`) that a
   * pull request from a fork may pull besides the agent's, the image builder's and the stack's
   * cache rules without credentials; empty: none. A fork's other images of the account are a
   * compile error (Drone gives forks no pull secrets).
   */
  readonly forkPullRepositories: readonly string[];
  /**
   * The stack's own pull-through cache rules (lib/pull-through-cache.ts): ECR Public, the
   * Kubernetes registry and Quay, and Docker Hub, ghcr.io and registry.gitlab.com once their
   * credentials' secret is set; builds' images of those registries are pulled through them.
   * `false`: no rules, images as written.
   */
  readonly pullThroughCache: boolean;
  /** ARN of a Secrets Manager secret named `ecr-pullthroughcache/…` holding Docker Hub `{"username","accessToken"}`. */
  readonly dockerHubCredentialsSecretArn: string | undefined;
  /** The same for GitHub's registry (ghcr.io): a GitHub user and a token that may read packages. */
  readonly ghcrCredentialsSecretArn: string | undefined;
  /** The same for GitLab.com's registry (registry.gitlab.com): a GitLab user and a token that may read registries. */
  readonly gitlabRegistryCredentialsSecretArn: string | undefined;
  /** `owner/name` repositories whose builds pull images as written (opted out of the cache), whatever their own setting (Repository.pullThroughCache) says. */
  readonly pullThroughCacheOptOut: readonly string[];
  /**
   * SOCI-enabled copies of the large images pulled through the stack's cache (lib/soci-indexes.ts):
   * the sha256 of the soci release tarball the converter image installs
   * (`soci-snapshotter-0.15.0-linux-amd64-static.tar.gz`, its `.sha256sum` on the release page).
   * Set: on (with the cache); unset: off.
   */
  readonly sociReleaseSha256: string | undefined;
  /** CloudWatch namespace of the Lambdas' metrics (POWERTOOLS_METRICS_NAMESPACE). */
  readonly metricsNamespace: string;
  /**
   * Prices that win over the defaults and the daily Price List refresh, by Region
   * (`{"regions":{"eu-west-1":{"fargate":{"X86_64":{"spot":{"vcpuHour":0.0121}}}}}}`); unset: none.
   */
  readonly prices: PriceOverride | undefined;
  /**
   * Image builds (docs/design/image-builds.md): `owner/name` of a Slipway repository → the ECR
   * repositories (names in this account and region) its builds may push to. Each listed
   * repository gets a build task role that may push to exactly these and to its own layer
   * cache repository (`slipway-cache/<owner>/<name>`); an empty list gives the cache alone
   * (pushes go to other registries with credentials from secrets). Unlisted repositories
   * build without a cache and push to ECR nowhere.
   */
  readonly imagePushRepositories: Readonly<Record<string, readonly string[]>>;
  /** The image builder (kaniko) image; unset: the compiler's pinned default (core/pipeline/image-build.ts). */
  readonly imageBuilder: string | undefined;
  /** An e-mail address subscribed to the alarms topic (lib/alarm-notifications.ts); unset: the topic alone. */
  readonly alarmEmail: string | undefined;
  /** Raise by one to replace the snapshot signer's access key at the next deploy (lib/snapshot-bucket.ts). */
  readonly snapshotSignerKeyVersion: number;
  /** EC2 capacity (lib/ec2-capacity.ts) for trusted repositories' Docker-needing pipelines and warm starts; unset: off. */
  readonly ec2Capacity: Ec2CapacitySettings | undefined;
}

export const DEFAULT_SETTINGS: SlipwaySettings = {
  maxConcurrentBuilds: 10,
  vcpuQuota: 6,
  useSpot: false,
  keepWarm: false,
  defaultCpu: 1024,
  defaultMemory: 2048,
  logRetentionDays: RetentionDays.ONE_MONTH,
  allowedRepositories: [],
  privateSubnets: false,
  deletionProtection: true,
  secretsPrefix: '/slipway',
  webhookSecretsPrefix: '/slipway-webhooks',
  cloneTokensPrefix: '/slipway-clone-tokens',
  autoscalerReservedConcurrency: 1,
  agentPlatforms: ['amd64', 'arm64'],
  pullRepositories: [],
  pullThroughCachePrefixes: [],
  forkPullRepositories: [],
  pullThroughCache: true,
  dockerHubCredentialsSecretArn: undefined,
  ghcrCredentialsSecretArn: undefined,
  gitlabRegistryCredentialsSecretArn: undefined,
  pullThroughCacheOptOut: [],
  sociReleaseSha256: undefined,
  metricsNamespace: 'Slipway',
  prices: undefined,
  imagePushRepositories: {},
  imageBuilder: undefined,
  alarmEmail: undefined,
  snapshotSignerKeyVersion: 1,
  ec2Capacity: undefined,
};

/** Settings of the app itself (where things are), beside the construct's settings. */
export interface AppSettings {
  readonly stackName: string;
  readonly dashboardDir: string;
  readonly dashboardWhenMissing: MissingDashboard;
  /** A prebuilt agent image; unset: built from task-runner/Dockerfile at deploy. */
  readonly agentImageUri: string | undefined;
}

const FARGATE_CPU = [256, 512, 1024, 2048, 4096, 8192, 16384];
const RETENTION_DAYS = new Set<number>(Object.values(RetentionDays).filter((v): v is number => typeof v === 'number'));
const REPO = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)+$/;

export class ConfigError extends Error {}

/** Reads one context value; undefined when not set. */
export type ContextReader = (key: string) => unknown;

export function settingsFromContext(get: ContextReader): SlipwaySettings {
  const d = DEFAULT_SETTINGS;
  const retention = integer(get, 'logRetentionDays', d.logRetentionDays, 1);
  if (!RETENTION_DAYS.has(retention)) {
    throw new ConfigError(
      `SLIPWAY-CONFIG: context logRetentionDays: ${retention} is not a CloudWatch Logs retention; expected one of ${[...RETENTION_DAYS].sort((a, b) => a - b).join(', ')}`,
    );
  }
  const cpu = integer(get, 'defaultCpu', d.defaultCpu, 256);
  if (!FARGATE_CPU.includes(cpu)) {
    throw new ConfigError(`SLIPWAY-CONFIG: context defaultCpu: ${cpu} is not a Fargate CPU size; expected one of ${FARGATE_CPU.join(', ')}`);
  }
  const allowed = list(get, 'allowedRepositories');
  for (const repo of allowed) {
    if (!REPO.test(repo)) throw new ConfigError(`SLIPWAY-CONFIG: context allowedRepositories: "${repo}" is not owner/name`);
  }
  const reserved = get('autoscalerReservedConcurrency');
  const secretsPrefix = string(get, 'secretsPrefix', d.secretsPrefix);
  if (!/^\/[A-Za-z0-9_.\-/]+$/.test(secretsPrefix)) {
    throw new ConfigError(`SLIPWAY-CONFIG: context secretsPrefix: "${secretsPrefix}" must be an SSM path such as /slipway`);
  }
  const platforms = list(get, 'agentPlatforms');
  for (const arch of platforms) {
    if (arch !== 'amd64' && arch !== 'arm64') throw new ConfigError(`SLIPWAY-CONFIG: context agentPlatforms: "${arch}" is not amd64 or arm64`);
  }
  const pullRepositories = list(get, 'pullRepositories');
  for (const arn of pullRepositories) {
    if (!/^arn:aws[a-z-]*:ecr:[a-z0-9-*]*:(\d{12}|\*):repository\/.+$/.test(arn)) {
      throw new ConfigError(`SLIPWAY-CONFIG: context pullRepositories: "${arn}" is not an ECR repository ARN such as arn:aws:ecr:eu-west-1:123456789012:repository/team/*`);
    }
  }
  const cachePrefixes = list(get, 'pullThroughCachePrefixes');
  for (const prefix of cachePrefixes) {
    if (!/^[a-z0-9][a-z0-9._/-]*$/.test(prefix)) throw new ConfigError(`SLIPWAY-CONFIG: context pullThroughCachePrefixes: "${prefix}" is not an ECR repository prefix such as docker-hub`);
  }
  const forkPullRepositories = list(get, 'forkPullRepositories');
  for (const name of forkPullRepositories) {
    // An ECR repository name (CreateRepository's pattern), `*` allowed as in a repository ARN.
    if (!/^[a-z0-9*](?:[a-z0-9._/*-]*[a-z0-9*])?$/.test(name)) {
      throw new ConfigError(`SLIPWAY-CONFIG: context forkPullRepositories: "${name}" is not an ECR repository name of this account and Region such as mirror/node or mirror/*`);
    }
  }
  const dockerHubSecret = cacheCredentials(get, 'dockerHubCredentialsSecretArn');
  const ghcrSecret = cacheCredentials(get, 'ghcrCredentialsSecretArn');
  const gitlabSecret = cacheCredentials(get, 'gitlabRegistryCredentialsSecretArn');
  const optOut = list(get, 'pullThroughCacheOptOut');
  for (const repo of optOut) {
    if (!/^[^/\s]+\/[^\s]+$/.test(repo)) throw new ConfigError(`SLIPWAY-CONFIG: context pullThroughCacheOptOut: "${repo}" is not a repository such as owner/name`);
  }
  const sociSha = get('sociReleaseSha256');
  if (sociSha !== undefined && sociSha !== '' && (typeof sociSha !== 'string' || !/^[a-f0-9]{64}$/.test(sociSha))) {
    throw new ConfigError(`SLIPWAY-CONFIG: context sociReleaseSha256: ${JSON.stringify(sociSha)} is not a sha256 (64 lower-case hex), the release's .sha256sum of soci-snapshotter-0.15.0-linux-amd64-static.tar.gz`);
  }
  const webhookSecretsPrefix = string(get, 'webhookSecretsPrefix', d.webhookSecretsPrefix).replace(/\/+$/, '');
  if (!/^\/[A-Za-z0-9_.\-/]+$/.test(webhookSecretsPrefix) || /^\/(aws|ssm)/i.test(webhookSecretsPrefix)) {
    throw new ConfigError(`SLIPWAY-CONFIG: context webhookSecretsPrefix: "${webhookSecretsPrefix}" must be an SSM path such as /slipway-webhooks (not starting with aws or ssm)`);
  }
  const within = (inner: string, outer: string) => `${inner}/`.startsWith(`${outer.replace(/\/+$/, '')}/`);
  if (within(webhookSecretsPrefix, secretsPrefix) || within(secretsPrefix, webhookSecretsPrefix)) {
    throw new ConfigError(
      `SLIPWAY-CONFIG: context webhookSecretsPrefix "${webhookSecretsPrefix}" and secretsPrefix "${secretsPrefix}" overlap; build tasks may read under secretsPrefix, so webhook secrets need a path of their own such as /slipway-webhooks`,
    );
  }
  // https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_Metric.html: 1 to 255
  // characters, not starting with ':'; ASCII without control characters, and "AWS/" is AWS's
  // own (PutMetricData's Namespace parameter).
  const metricsNamespace = string(get, 'metricsNamespace', d.metricsNamespace);
  if (metricsNamespace.length > 255 || !/^[\x20-\x7e]+$/.test(metricsNamespace) || metricsNamespace.startsWith(':') || /^AWS\//i.test(metricsNamespace)) {
    throw new ConfigError(`SLIPWAY-CONFIG: context metricsNamespace: "${metricsNamespace}" must be 1 to 255 printable ASCII characters, not starting with ":" or "AWS/" (e.g. Slipway)`);
  }
  const cloneTokensPrefix = string(get, 'cloneTokensPrefix', d.cloneTokensPrefix).replace(/\/+$/, '');
  if (!/^\/[A-Za-z0-9_.\-/]+$/.test(cloneTokensPrefix) || /^\/(aws|ssm)/i.test(cloneTokensPrefix)) {
    throw new ConfigError(`SLIPWAY-CONFIG: context cloneTokensPrefix: "${cloneTokensPrefix}" must be an SSM path such as /slipway-clone-tokens (not starting with aws or ssm)`);
  }
  for (const [name, other, why] of [
    ['secretsPrefix', secretsPrefix, "a step's from_secret reads under it, so a clone token there could reach a step"],
    ['webhookSecretsPrefix', webhookSecretsPrefix, 'only the webhook may read webhook secrets, and the autoscaler writes clone tokens'],
  ] as const) {
    if (within(cloneTokensPrefix, other) || within(other, cloneTokensPrefix)) {
      throw new ConfigError(`SLIPWAY-CONFIG: context cloneTokensPrefix "${cloneTokensPrefix}" and ${name} "${other}" overlap (${why}); give clone tokens a path of their own such as /slipway-clone-tokens`);
    }
  }
  const imagePushRepositories = pushRepositories(get);
  const builder = get('imageBuilder');
  if (builder !== undefined && (typeof builder !== 'string' || !/^[^\s@]+(@sha256:[0-9a-f]{64})?$/.test(builder))) {
    throw new ConfigError(`SLIPWAY-CONFIG: context imageBuilder: ${JSON.stringify(builder)} is not an image reference such as registry/kaniko:v1-debug@sha256:<64 hex>`);
  }
  let ec2Capacity: Ec2CapacitySettings | undefined;
  try {
    ec2Capacity = ec2CapacityFromContext(get('ec2Capacity'));
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  const alarmEmail = get('alarmEmail');
  // One address (SNS's email protocol takes exactly one per subscription).
  if (alarmEmail !== undefined && alarmEmail !== '' && (typeof alarmEmail !== 'string' || !/^[^\s@,;]+@[^\s@,;]+\.[^\s@,;]+$/.test(alarmEmail))) {
    throw new ConfigError(`SLIPWAY-CONFIG: context alarmEmail: ${JSON.stringify(alarmEmail)} is not one e-mail address such as ops@example.com`);
  }
  return {
    ec2Capacity,
    alarmEmail: alarmEmail === undefined || alarmEmail === '' ? undefined : (alarmEmail as string),
    metricsNamespace,
    imagePushRepositories,
    imageBuilder: builder === undefined || builder === '' ? undefined : builder,
    agentPlatforms: platforms.length > 0 ? (platforms as AgentArch[]) : d.agentPlatforms,
    pullRepositories,
    pullThroughCachePrefixes: cachePrefixes,
    forkPullRepositories,
    pullThroughCache: boolean(get, 'pullThroughCache', d.pullThroughCache),
    dockerHubCredentialsSecretArn: dockerHubSecret,
    ghcrCredentialsSecretArn: ghcrSecret,
    gitlabRegistryCredentialsSecretArn: gitlabSecret,
    pullThroughCacheOptOut: optOut,
    sociReleaseSha256: sociSha === undefined || sociSha === '' ? undefined : (sociSha as string),
    maxConcurrentBuilds: integer(get, 'maxConcurrentBuilds', d.maxConcurrentBuilds, 1),
    vcpuQuota: integer(get, 'vcpuQuota', d.vcpuQuota, 1),
    useSpot: boolean(get, 'useSpot', d.useSpot),
    keepWarm: boolean(get, 'keepWarm', d.keepWarm),
    defaultCpu: cpu,
    defaultMemory: integer(get, 'defaultMemory', d.defaultMemory, 512),
    logRetentionDays: retention as RetentionDays,
    allowedRepositories: allowed,
    privateSubnets: boolean(get, 'privateSubnets', d.privateSubnets),
    deletionProtection: boolean(get, 'deletionProtection', d.deletionProtection),
    secretsPrefix: secretsPrefix.replace(/\/+$/, ''),
    webhookSecretsPrefix,
    cloneTokensPrefix,
    autoscalerReservedConcurrency:
      reserved === false || reserved === 'false' ? false : integer(get, 'autoscalerReservedConcurrency', 1, 1),
    snapshotSignerKeyVersion: integer(get, 'snapshotSignerKeyVersion', d.snapshotSignerKeyVersion, 1),
    prices: prices(get),
  };
}

export function appSettingsFromContext(get: ContextReader): AppSettings {
  const whenMissing = string(get, 'dashboardWhenMissing', 'fail');
  if (whenMissing !== 'fail' && whenMissing !== 'placeholder') {
    throw new ConfigError(`SLIPWAY-CONFIG: context dashboardWhenMissing: "${whenMissing}"; expected fail or placeholder`);
  }
  const uri = get('agentImageUri');
  return {
    stackName: string(get, 'stackName', 'Slipway'),
    dashboardDir: string(get, 'dashboardDir', 'web/dist'),
    dashboardWhenMissing: whenMissing,
    agentImageUri: uri === undefined || uri === '' ? undefined : string(get, 'agentImageUri', ''),
  };
}

function integer(get: ContextReader, key: string, fallback: number, min: number): number {
  const raw = get(key);
  if (raw === undefined) return fallback;
  const value = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new ConfigError(`SLIPWAY-CONFIG: context ${key}: ${JSON.stringify(raw)} is not an integer ≥ ${min}`);
  }
  return value;
}

function boolean(get: ContextReader, key: string, fallback: boolean): boolean {
  const raw = get(key);
  if (raw === undefined) return fallback;
  if (raw === true || raw === 'true') return true;
  if (raw === false || raw === 'false') return false;
  throw new ConfigError(`SLIPWAY-CONFIG: context ${key}: ${JSON.stringify(raw)}; expected true or false`);
}

/**
 * The ARN of an upstream registry's credentials for a pull-through cache rule, or undefined
 * when unset. ECR's CreatePullThroughCacheRule wants a secret named ecr-pullthroughcache/…
 * (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_CreatePullThroughCacheRule.html).
 */
function cacheCredentials(get: ContextReader, key: string): string | undefined {
  const raw = get(key);
  if (raw === undefined || raw === '') return undefined;
  if (typeof raw !== 'string' || !/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:ecr-pullthroughcache\/[A-Za-z0-9/_+=.@-]+$/.test(raw)) {
    throw new ConfigError(`SLIPWAY-CONFIG: context ${key}: ${JSON.stringify(raw)} is not the ARN of a Secrets Manager secret named ecr-pullthroughcache/… (ECR requires that prefix)`);
  }
  return raw;
}

function string(get: ContextReader, key: string, fallback: string): string {
  const raw = get(key);
  if (raw === undefined) return fallback;
  if (typeof raw !== 'string' || raw === '') throw new ConfigError(`SLIPWAY-CONFIG: context ${key}: ${JSON.stringify(raw)}; expected a non-empty string`);
  return raw;
}


/** `prices`: a JSON object (cdk.json, or -c prices='{"regions":{…}}'), checked against the price table's shape. */
function prices(get: ContextReader): PriceOverride | undefined {
  const raw = get('prices');
  if (raw === undefined || raw === '') return undefined;
  let value: unknown = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch (error) {
      throw new ConfigError(`SLIPWAY-CONFIG: context prices: not JSON (${(error as Error).message}); expected {"regions":{"us-east-1":{"publicIpv4Hour":0.005}}}`);
    }
  }
  try {
    return checkPriceOverride(value, 'SLIPWAY-CONFIG: context prices');
  } catch (error) {
    if (error instanceof PriceOverrideError) throw new ConfigError(error.message);
    throw error;
  }
}

/** `imagePushRepositories`: a JSON object (cdk.json, or -c key='{"o/n":["repo"]}'). */
function pushRepositories(get: ContextReader): Record<string, readonly string[]> {
  const raw = get('imagePushRepositories');
  if (raw === undefined || raw === '') return {};
  let value: unknown = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch (error) {
      throw new ConfigError(`SLIPWAY-CONFIG: context imagePushRepositories: not JSON (${(error as Error).message}); expected {"owner/name": ["ecr-repository", …]}`);
    }
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(`SLIPWAY-CONFIG: context imagePushRepositories: ${JSON.stringify(raw)}; expected {"owner/name": ["ecr-repository", …]}`);
  }
  const out: Record<string, readonly string[]> = {};
  for (const [repo, names] of Object.entries(value as Record<string, unknown>)) {
    if (!REPO.test(repo)) throw new ConfigError(`SLIPWAY-CONFIG: context imagePushRepositories: "${repo}" is not owner/name`);
    if (!Array.isArray(names) || !names.every((n) => typeof n === 'string' && isEcrRepositoryName(n))) {
      throw new ConfigError(
        `SLIPWAY-CONFIG: context imagePushRepositories["${repo}"]: ${JSON.stringify(names)}; expected a list of ECR repository names (lower case, e.g. team/app)`,
      );
    }
    out[repo] = names as string[];
  }
  return out;
}

/** A JSON array of strings (cdk.json) or a comma-separated string (-c key=a,b). */
function list(get: ContextReader, key: string): string[] {
  const raw = get(key);
  if (raw === undefined || raw === '') return [];
  if (typeof raw === 'string') return raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (Array.isArray(raw) && raw.every((s) => typeof s === 'string')) return raw as string[];
  throw new ConfigError(`SLIPWAY-CONFIG: context ${key}: ${JSON.stringify(raw)}; expected a list of strings or "a,b"`);
}
