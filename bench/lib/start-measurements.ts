// The stage times of the start model (start-model.ts), each with where it comes from. A
// duration is a log-normal given by its median and 95th percentile, in seconds. Numbers
// marked "assumed" have no published measurement behind them: they are what an AWS
// account must confirm first (see the closing note of the bench's output).

export interface Spread {
  p50: number;
  p95: number;
  source: string;
}

/** Before RunTask: the control plane's calls, each a round trip from Lambda in the Region. */
export const CONTROL_PLANE = {
  lambdaWarm: { p50: 0.03, p95: 0.08, source: 'assumed: a warm Node.js invocation plus its service call, tens of ms' },
  // Init Duration 303.63 ms for a Node.js handler loading Powertools and SDK clients at 128 MB:
  // https://kkloudtarus.net/en/blog/lambda-cold-start-optimization ("Init Duration: 303.63 ms (cold)").
  // The first run after init is slower again (1513 ms vs 214 ms warm there): p95 1.5 s.
  lambdaCold: { p50: 0.6, p95: 1.5, source: 'kkloudtarus.net/en/blog/lambda-cold-start-optimization: init 304 ms, first run 1.5 s at 128 MB' },
  /** How often a push meets a cold function: a CI deployment is idle between pushes. */
  coldShare: { value: 0.5, source: 'assumed: pushes minutes apart find the functions cold about half the time' },
  /**
   * How long Lambda keeps an idle execution environment, at least: AWS says only "a
   * non-deterministic period of time" (docs.aws.amazon.com/lambda/latest/operatorguide/execution-environments.html);
   * measured well past 5 minutes, often 45–60 (theburningmonk.com/2017/06/finding-coldstarts-how-long-does-aws-lambda-keep-your-idle-functions-around).
   * A function invoked at least this often on a schedule is taken as warm.
   */
  environmentKeptIdleMinutes: { value: 5, source: 'AWS Lambda operator guide ("non-deterministic period"); theburningmonk.com 2017: idle environments outlive 5 minutes' },
  sqsToLambda: { p50: 0.05, p95: 0.5, source: 'assumed: the SQS event source mapping long-polls; tens of ms when a poller is waiting' },
  gitHostCall: { p50: 0.3, p95: 0.9, source: 'assumed: one GitHub REST call from us-east-1 or eu-west-1 (contents, statuses)' },
  /**
   * A push of a repository within 15 minutes of its previous one: its function instances still
   * hold that push's tokens (the autoscaler uses a clone token again with 45 of its 60 minutes
   * left, the planner its API token until 5 minutes before its end).
   */
  recentPushShare: { value: 0.35, source: 'assumed: about a third of the pushes of an active repository come within 15 minutes of its previous one' },
  ssmWrite: { p50: 0.05, p95: 0.15, source: 'assumed: one SSM PutParameter (standard SecureString) in the Region, tens of ms' },
  dynamoWrite: { p50: 0.01, p95: 0.03, source: 'DynamoDB single-digit ms per item (aws.amazon.com/dynamodb); a transaction of a few items' },
  runTask: { p50: 0.4, p95: 1.2, source: 'assumed: the RunTask API call itself, before the task is PROVISIONING' },
  eventToLambda: { p50: 0.5, p95: 2, source: 'assumed: an ECS task state change through EventBridge to its Lambda target (AWS documents no delivery latency)' },
} as const;

/** After RunTask. */
export const TASK = {
  // "ENI attachment latency: < 10 seconds per task (normal)":
  // https://www.cloudkeeper.com/insights/blog/addressing-network-bottlenecks-while-scaling-amazon-ecs
  // plus capacity placement; the rest of a Fargate start is image pulls (below).
  provisioning: { p50: 9, p95: 18, source: 'cloudkeeper.com (ENI attachment < 10 s per task, normal) plus placement' },
  // A 413 MB image: creation → start 53–62 s, average 57 s, through a NAT
  // (https://elasticscale.com/reduce-aws-fargate-pull-times-with-soci/); minus provisioning ≈ 48 s
  // for 413 MB: ≈ 8.6 MB/s download and extraction together, in-Region ECR.
  // Concurrent pulls share it: extraction is CPU-bound ("a larger task size with additional vCPUs
  // ... can help reduce the time that is required to extract the image",
  // https://docs.aws.amazon.com/AmazonECS/latest/bestpracticesguide/pull-behavior.html).
  ecrMegabytesPerSecond: { p50: 8.6, p95: 5.5, source: 'elasticscale.com: 413 MB image, 57 s average creation → start on Fargate (ECR, NAT)' },
  // Docker Hub from AWS: across the internet, and a token round trip per image; the Fargate docs
  // say pulls over the internet or across Regions "might impact the download time"
  // (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-pull-behavior.html).
  // Counted as more work per MB on the same task: ×1.3 at the median, ×2 at p95. One user
  // reports "1+ minute when pulling from docker.io and 20-40 seconds when pulling images from
  // within a VPC" (github.com/aws/containers-roadmap/issues/358, 2019): these figures are on the
  // low side of that.
  dockerHubSlowdown: { p50: 1.3, p95: 2, source: 'assumed: Docker Hub over the internet vs ECR in the Region (AWS: "might impact the download time")' },
  registryRoundTrip: { p50: 0.4, p95: 1.2, source: 'assumed: manifest + token requests before the first layer' },
  containerStart: { p50: 0.5, p95: 1.5, source: 'assumed: create + start of one container after its image is there' },
  agentBoot: { p50: 0.3, p95: 0.6, source: 'measured here: node agent.mjs --version (the 92 KB bundle), 0.25–0.29 s over 5 runs on a shared 2-core VM' },
  // initdb ~1.1 s and pg_ctl start ~0.3 s on this machine (shared/reference/toolchain.md); the
  // postgres image's entrypoint runs initdb on an empty data directory every time.
  postgresBoot: { p50: 3, p95: 6, source: 'measured here: initdb 1.1 s + start 0.3 s; ×2 for a 1-vCPU Fargate task' },
  serviceBoot: { p50: 2, p95: 5, source: 'assumed: a service image other than postgres' },
  /** The agent reads container health from the task metadata endpoint every second (task-runner/gate.ts). */
  metadataPoll: { value: 1, source: 'task-runner/gate.ts: metadata read on every probe round, back-off to 2 s' },
  /** A segment's agent asks the service task's agent, backing off from 0.1 s to 2 s (task-runner/services-ready.ts, PROBE_BACKOFF). */
  remoteAsk: { value: 2, source: 'task-runner/services-ready.ts + backoff.ts PROBE_BACKOFF: questions back off to one every 2 s' },
  /** One small object PUT or GET in the Region (the service task's address, task-runner/services-address.ts). */
  s3Request: { p50: 0.1, p95: 0.2, source: 'S3 performance guidelines: small-object latencies of roughly 100–200 ms (docs.aws.amazon.com/AmazonS3/latest/userguide/optimizing-performance-guidelines.html)' },
  /** A first segment's agent reads the service task's address, backing off from 0.5 s to 2 s (task-runner/services-address.ts, ADDRESS_POLL_BACKOFF). */
  addressPoll: { value: 2, source: 'task-runner/services-address.ts ADDRESS_POLL_BACKOFF: reads back off to one every 2 s' },
  cloneFull: { p50: 8, p95: 20, source: 'assumed: a repository with a 60 MB history pack at ~10 MB/s from the Git host, plus checkout' },
  // SOCI (lazy loading) on Fargate: worth it for images over 250 MB ("For large container images
  // (> 250mb), it's better to lazy load", https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-pull-behavior.html;
  // smaller ones may start slower), and only for layers of 10 MB or more, which get a zTOC.
  sociMinMegabytes: { value: 250, source: 'AWS fargate-pull-behavior.html: lazy load images over 250 MB' },
  // The share of an indexed image's pull that still stands before its container starts. AWS says
  // tasks start "up to 50%" faster (the launch post, quoted at technology.amis.nl/serverless/lazy-loading-with-aws-fargate);
  // 40% less scale-out latency was measured at therenaissance.dev/2025/12/26/speed-up-ecs-start;
  // the study AWS cites (Harter et al., FAST '16) finds 6.4% of an image read at start: the floor.
  sociFetchedShare: { p50: 0.5, p95: 0.8, source: 'assumed from published claims: AWS "up to 50%" faster starts with SOCI; 40% measured (therenaissance.dev); 6.4% of an image read at start (FAST \'16) the floor' },
  cloneShallow: { p50: 1.5, p95: 4, source: 'assumed: the same repository at depth 1 (~5 MB): negotiation plus one small pack' },
  // zstd instead of gzip layers. AWS: "up to a 27% reduction in Amazon ECS Task ... startup
  // times", "the larger container images seeing the greatest improvement" (AWS Containers blog,
  // "Reducing AWS Fargate Startup Times with zstd Compressed Container Images", 2022-10-13); the
  // Fargate docs name zstd and a larger task as the two ways to shorten decompression
  // (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-pull-behavior.html,
  // "Alternative compression algorithms"). Users report a 2.4 GB image at 1.16 GB and ~90 s → ~60 s
  // on 4 vCPU (github.com/aws/containers-roadmap/issues/696, 2022-11-25), and 258 MB → 217 MB
  // (-16 %) with a 2.5 s shorter start of 67.8 s that application init dominated
  // (github.com/serithemage/serverless-openclaw/issues/7). As the share of a gzip image's pull
  // (download and extraction) its zstd copy still takes: 0.8 at the median, between 16 % fewer
  // bytes and 27 % of a whole start; 0.95 at p95 (small images gain least).
  zstdPullShare: {
    p50: 0.8,
    p95: 0.95,
    source: 'AWS Containers blog 2022-10-13 (zstd: "up to a 27% reduction" in task start, larger images gain most); containers-roadmap#696 (2.4 → 1.16 GB, ~90 → ~60 s at 4 vCPU); serverless-openclaw#7 (258 → 217 MB)',
  },
} as const;

/**
 * Figures with no controlled measurement behind them, for bounds only (start-ladder.ts,
 * startBounds): they say how far a lever could go at most, never what it gives.
 */
export const BOUNDS = {
  // AWS says the vCPUs available affect decompression and "you can increase the size of the task"
  // (fargate-pull-behavior.html), with no figure. What is published: a task's storage (its
  // ephemeral storage shares it) gets a baseline of 75, 120, 250, 500 MiB/s at 2, 4, 8, 16 vCPU
  // (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ebs-fargate-performance-limits.html,
  // nothing stated for 1 vCPU or less), and Fargate's network throughput "does not really grow
  // with assigned container resources" (stormforge.io/blog/aws-fargate-network-performance,
  // 2018, updated 2021). The bound: the whole pull rate scales with vCPU, ×2 at 2 vCPU.
  twoVcpuRateFactor: { value: 2, source: 'upper bound: AWS fargate-pull-behavior.html (extraction needs vCPU, no figure); ebs-fargate-performance-limits.html (storage baseline rises with vCPU); stormforge.io (network does not)' },
  // One reported 4-vCPU start: 2.4 GB from creation to start in ~90 s (containers-roadmap#696,
  // 2022-11-25): (2400 MB) / (90 s - 9 s provisioning) ≈ 30 MB/s, 3.5× the model's 8.6 MB/s of a
  // task of unknown size. Another image, Region and year: indicative, not a comparison.
  fourVcpuReportedMegabytesPerSecond: { value: 30, source: 'github.com/aws/containers-roadmap/issues/696 (2022-11-25): 2.4 GB image, ~90 s creation → start, 4 vCPU / 8 GB' },
} as const;

/**
 * Compressed image sizes in MB (linux/amd64) as the registries list them, for the images of
 * the modelled pipeline; anything else counts as `unknown`.
 */
export const IMAGE_MEGABYTES: Record<string, { mb: number; source: string }> = {
  node: { mb: 390, source: 'Docker Hub node:20 (bookworm), compressed size listed on the tag page, approximate' },
  postgres: { mb: 150, source: 'Docker Hub postgres:16, compressed size listed on the tag page, approximate' },
  'slipway-agent': { mb: 46.3, source: 'npm run bench -- image-bytes (bench/lib/agent-image.ts): the layers task-runner/Dockerfile builds for linux/amd64' },
  unknown: { mb: 200, source: 'assumed' },
};

/**
 * Smaller variants a pipeline could name instead (its author's choice, not Slipway's), compressed
 * linux/amd64, from docker-library/repo-info (mirror maxmood96/repo-info, repos/<name>/remote/<tag>.md).
 * The same files give node:20 397.7 MB (Jan 2025) and postgres:16 160.1 MB (Jan 2026), within 7 %
 * of IMAGE_MEGABYTES above.
 */
export const SMALLER_VARIANTS: Record<string, { repository: string; mb: number; source: string }> = {
  'node:20-slim': { repository: 'node', mb: 70.7, source: 'docker-library/repo-info repos/node/remote/20-slim.md: node 20.18.1 on bookworm-slim, 70.7 MB (linux/amd64)' },
  'postgres:16-alpine': { repository: 'postgres', mb: 109.5, source: 'docker-library/repo-info repos/postgres/remote/16-alpine.md: 109.5 MB (linux/amd64)' },
};

/** The agent image before it left npm, corepack, yarn and the C headers of node:20-alpine behind. */
export const AGENT_IMAGE_BEFORE = { mb: 53.6, source: 'npm run bench -- image-bytes on task-runner/Dockerfile FROM node:20-alpine (linux/amd64)' } as const;

/**
 * EC2 capacity (issue 19: `node: { capacity: warm }`, core/pipeline/ec2-task.ts): host network,
 * one build per instance, images cached on the instance (ECS_IMAGE_PULL_BEHAVIOR prefer-cached).
 * What differs from a Fargate start: no task ENI, the instance's own pull rate and disk, and
 * for an instance not yet running, its start or launch and the ECS agent's registration.
 */
export const EC2 = {
  // m7i.large, Amazon Linux 2023, three runs: RunInstances 4.8 s + pending → running 17.8 s +
  // boot → SSH 3.2 s = 25.8 s on average (github.com/brevdev/ec2-coldboot-research,
  // docs/cold-baseline-results.md). Boot times are reported bimodal, "tens vs ~80 s"
  // (hndistilled.com/story/40455208, on EBS hydration): the slow mode as p95.
  launch: { p50: 25.8, p95: 60, source: 'brevdev/ec2-coldboot-research cold-baseline-results.md: m7i.large AL2023 launch → SSH 25.8 s average; p95 from the reported slow mode (hndistilled.com/story/40455208)' },
  // The same instance started from stopped (what a warm pool's Warmed:Stopped instance does):
  // 21.2 s to SSH (docs/start-stopped-results.md, summarised in docs/warm-pool-results.md).
  warmPoolStart: { p50: 21.2, p95: 35, source: 'brevdev/ec2-coldboot-research warm-pool-results.md: m7i.large AL2023 start-stopped → SSH 21.2 s; p95 assumed' },
  // After boot the ECS agent starts (ecs-init starts Docker, then the agent container, which is
  // preloaded on the ECS-optimized AMI) and registers with the cluster; with ECS_WARM_POOLS_CHECK
  // it first reads the instance's warm pool state from IMDS
  // (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using-warm-pool.html).
  agentRegistration: { p50: 6, p95: 15, source: 'assumed: ecs-init starts Docker and the preloaded agent, which registers (RegisterContainerInstance) and connects to ACS' },
  // The autoscaler's SetDesiredCapacity until the group starts the instance (its launch or start call).
  groupReaction: { p50: 2, p95: 6, source: 'assumed: an Auto Scaling activity begins within seconds of SetDesiredCapacity (no scaling policy, no alarm in between)' },
  // RunTask to the task's containers being created on the instance: ECS places it (no ENI in
  // host mode: "for each task in awsvpc mode, Amazon ECS workflows need to provision and attach
  // an ENI ... an overhead of several seconds", https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-recommendations.html)
  // and the agent receives it over its ACS connection.
  placement: { p50: 1, p95: 2.5, source: 'assumed: ECS placement and the ACS push to the agent (no ENI in host mode, AWS task-recommendations.html)' },
  // docker run on a 2-vCPU cloud VM: 568 ms on premium SSD, 1157 ms on standard HDD (arXiv
  // 2602.15214, "Decomposing Docker Container Startup Performance"): gp3 is SSD; HDD as p95.
  containerStart: { p50: 0.57, p95: 1.16, source: 'arXiv 2602.15214: docker container start 568 ms (cloud SSD), 1157 ms (HDD) on a 2-vCPU VM' },
  // An image not on the instance: pulled over the instance's network and extracted on its
  // vCPUs onto gp3 (125 MB/s baseline). AWS: "For larger Docker images, the download time
  // might take 10-20 seconds to pull over the network" (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/pull-behavior.html):
  // node:20 (390 MB) in ~16 s at the median, ~30 s at p95.
  ecrMegabytesPerSecond: { p50: 25, p95: 13, source: 'AWS pull-behavior.html (EC2): larger images take 10-20 s to pull; 390 MB in 16 s at the median, 30 s at p95' },
  // postgres's entrypoint runs initdb on the empty data directory of every new container,
  // starts a temporary server, then the real one: measured here initdb 1.1 s + start 0.3 s
  // (shared/reference/toolchain.md); the task's 1024 CPU units are one vCPU of the instance.
  postgresBoot: { p50: 2.5, p95: 5, source: 'measured here: initdb 1.1 s + pg_ctl start 0.3 s (twice in the entrypoint), on one vCPU' },
  // ECS's health check interval has a minimum of 5 s, and Docker runs the first check one
  // interval after the container starts (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_HealthCheck.html:
  // "You may specify between 5 and 300 seconds"): read from the task definition, not here.
  // The autoscaler's passes: its schedule and the Auto Scaling and ECS reads a pass makes on EC2.
  fleetDescribe: { p50: 0.15, p95: 0.5, source: 'assumed: DescribeAutoScalingGroups, ListContainerInstances, DescribeContainerInstances in the Region (adapters/ec2/fleet.ts)' },
  /**
   * A short-poll ReceiveMessage (WaitTimeSeconds 0) samples "a weighted random set of machines
   * ... If the number of messages in the queue is extremely small, you might not receive any
   * messages in a particular ReceiveMessage response" (ReceiveMessage, AWS SDK API reference);
   * a long poll has no such "false empty responses" (SQS Developer Guide,
   * best-practices-setting-up-long-polling.html). AWS publishes no rate for a queue of one message.
   */
  shortPollMiss: { value: 0.1, source: 'assumed: AWS documents that a short poll of an almost empty queue may return nothing, without a rate' },
} as const;
