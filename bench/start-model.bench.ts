// Push → first step on Fargate for issue 18's pipeline (a postgres service, a node image):
// p50/p95 from the start model (bench/lib/start-model.ts) for today's task definition and
// after each change, as ratios to today, in one run. Stage times and their sources:
// bench/lib/start-measurements.ts. The task definitions are compiled here, so a compiler
// change shows in these figures; "today" is the definition the compiler wrote before them.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gitHostFirstPush } from './lib/git-host-calls.js';
import { GIT_HOST_PATH_INSTANCE_ONLY } from './lib/start-model.js';
import { ec2PassProfile, pendingStatusOnPath } from './lib/control-plane-path.js';
import { keepWarmCost, LAMBDA_PRICES } from './lib/keep-warm-cost.js';
import { compiledContainers, compiledSplit, deploymentStart, ec2Rows, ec2RunningLadder, gitHostPathText, startBounds, startLadder } from './lib/start-ladder.js';
import { TASK } from './lib/start-measurements.js';
import { gitHostPath } from './lib/git-host-calls.js';
import { DEFAULT_PRICES } from '../core/cost/price-table.js';
import { GIT_HOST_PATH_BEFORE, registryOf, serviceTaskShape, splitStartFigures, startFigures, startShape, TODAY_CONTROL_PLANE, type SplitStartMode } from './lib/start-model.js';

const fixtures = fileURLToPath(new URL('../test/fixtures/start-model/', import.meta.url));
const gitHost = await gitHostPath();
const measured = { statusOnPath: await pendingStatusOnPath(), gitHost };
const ladder = startLadder(readFileSync(`${fixtures}pipeline.yml`, 'utf8'), JSON.parse(readFileSync(`${fixtures}today.json`, 'utf8')), measured);
// The ladder's later rows assume the opt-ins; what a deployment gets with none of them, beside it.
const defaults = deploymentStart(readFileSync(`${fixtures}pipeline.yml`, 'utf8'), measured);
const today = ladder[0]!.figures;
const s = (x: number) => `${x.toFixed(1)} s`;
// Read by driving the planner's planEvent and the autoscaler's startStage through a GitHub that
// answers only when told (bench/lib/git-host-calls.ts).
console.log('Git host calls on the path, private repository with a GitHub App (cold/warm/refreshed instance; autoscaler: GitHub + SSM writes):');
console.log(`  before: ${gitHostPathText(GIT_HOST_PATH_BEFORE)}`);
console.log(`  kept in each instance only: ${gitHostPathText(GIT_HOST_PATH_INSTANCE_ONLY)}`);
console.log(`  now (kept on the repository record too): ${gitHostPathText(gitHost)}`);
const first = await gitHostFirstPush();
console.log(`  a repository's first push (nothing kept yet): planner ${first.planner}, autoscaler ${first.autoscaler.gitHost}+${first.autoscaler.ssmWrites}`);
console.log('push → first step, Fargate, model of published measurements (20 000 runs each, seed 18)');
console.log('change'.padEnd(50), 'p50'.padStart(8), 'p95'.padStart(8), ' p50 ratio', ' p95 ratio');
for (const { name, figures } of ladder) {
  console.log(name.padEnd(50), s(figures.p50).padStart(8), s(figures.p95).padStart(8), `${(figures.p50 / today.p50).toFixed(2)}×`.padStart(10), `${(figures.p95 / today.p95).toFixed(2)}×`.padStart(10));
}
console.log(`\n${defaults.name}:`);
console.log(''.padEnd(50), s(defaults.figures.p50).padStart(8), s(defaults.figures.p95).padStart(8), `${(defaults.figures.p50 / today.p50).toFixed(2)}×`.padStart(10), `${(defaults.figures.p95 / today.p95).toFixed(2)}×`.padStart(10));
console.log('\nmedian end of each stage, seconds from push:');
for (const { name, figures } of [...ladder, defaults]) {
  console.log(`  ${name}: ${Object.entries(figures.stageP50).map(([stage, at]) => `${stage} ${at.toFixed(1)}`).join(', ')}`);
}

// What stands between the model and issue 18's goal (25 s at p50 on Fargate), on top of the
// ladder's last row: bounds, not levers (docs/design/start-fast.md). A task of n vCPU (2 GB each)
// is billed for the whole build: its price per build minute, us-east-1 x86 on-demand.
const GOAL_SECONDS = 25;
const rates = DEFAULT_PRICES.regions['us-east-1']!.fargate.X86_64.onDemand;
const perMinute = (vcpu: number) => ((vcpu * rates.vcpuHour + 2 * vcpu * rates.gbHour) / 60).toFixed(5);
const bounds = startBounds(readFileSync(`${fixtures}pipeline.yml`, 'utf8'), ladder.at(-1)!);
console.log(`\nwhat stands between the model and ${GOAL_SECONDS} s at p50 (bounds, not levers)`);
console.log('bound'.padEnd(62), 'p50'.padStart(8), 'p95'.padStart(8), '  goal', '  task', ' $/build-min', '  pulls end', ' svc ready');
for (const { name, vcpu, figures } of bounds) {
  console.log(
    name.padEnd(62), s(figures.p50).padStart(8), s(figures.p95).padStart(8), (figures.p50 <= GOAL_SECONDS ? '   met' : '   not'),
    `${vcpu} vCPU`.padStart(7), perMinute(vcpu).padStart(12), s(figures.stageP50.pulls).padStart(11), s(figures.stageP50['services ready']).padStart(10),
  );
}

// The same pipeline on EC2 capacity (`node: { capacity: warm }`, issue 19): its EC2 form as the
// planner compiles it for a trusted repository, on a running idle instance, one started from
// the warm pool, or one launched, with its images cached on the instance or not. "before":
// the autoscaler's passes, the agent's gate and the step's wait as they were; "now": as the
// code and the compiled task definition have them.
const statusOnPath = await pendingStatusOnPath();
const passes = await ec2PassProfile();
const ec2Profile = { ...TODAY_CONTROL_PLANE, statusOnPath, gitHost };
const rows = ec2Rows(readFileSync(`${fixtures}pipeline.yml`, 'utf8'), passes, ec2Profile);
console.log('\npush → first step on EC2 capacity (node: { capacity: warm }), 20 000 runs each, seed 19');
console.log(
  `  now: the planner's nudged pass waits ${passes.nudgedReceiveWaitSeconds} s for its message (long poll), an instance joining the cluster ${passes.registrationNudges ? 'nudges' : 'does not nudge'} a pass, the gate looks every ≤ ${passes.gateBackoff.maxMs / 1000} s, the first step's wrapper every ${rows[0]!.wrapperPoll} s; scheduled passes every ${passes.scheduleSeconds} s`,
);
console.log('instance'.padEnd(46), 'before p50'.padStart(11), 'p95'.padStart(8), 'now p50'.padStart(9), 'p95'.padStart(8), '  p50 / p95 ratio');
for (const r of rows) {
  console.log(r.name.padEnd(46), s(r.before.p50).padStart(11), s(r.before.p95).padStart(8), s(r.now.p50).padStart(9), s(r.now.p95).padStart(8), `  ${(r.now.p50 / r.before.p50).toFixed(2)}× / ${(r.now.p95 / r.before.p95).toFixed(2)}×`);
}
const ladder2 = ec2RunningLadder(readFileSync(`${fixtures}pipeline.yml`, 'utf8'), passes, ec2Profile);
console.log('\na running idle instance, images cached: each change in turn');
for (const { name, figures } of ladder2) {
  console.log(`  ${name.padEnd(52)} ${s(figures.p50).padStart(8)} ${s(figures.p95).padStart(8)}   ${(figures.p50 / ladder2[0]!.figures.p50).toFixed(2)}× / ${(figures.p95 / ladder2[0]!.figures.p95).toFixed(2)}×`);
}
console.log('\nmedian end of each stage on EC2, seconds from push:');
for (const r of rows) {
  for (const [label, f] of [['before', r.before], ['now', r.now]] as const) {
    console.log(`  ${r.name} (${label}): ${Object.entries(f.stageP50).map(([stage, at]) => `${stage} ${at.toFixed(1)}`).join(', ')}`);
  }
}

// A split pipeline with services (docs/design/split-pipelines.md): when its first segment is
// started against its service task. The project's golden split pipeline (two services and a
// detached step in the service task, nine step containers in segment 1).
const split = compiledSplit(readFileSync(fileURLToPath(new URL('../test/fixtures/compile-split/services.yml', import.meta.url)), 'utf8'));
const segmentShape = startShape(split.segment);
const serviceShape = serviceTaskShape(split.serviceTask);
const modes: [SplitStartMode, string][] = [
  ['together', 'both at once, address left in S3 by its agent (as built)'],
  ['after-running', 'segment 1 once the service task runs (built before)'],
  ['at-address', '(model only) once its address shows (pulls pending)'],
];
console.log('\nsplit pipeline with services (test/fixtures/compile-split/services.yml): push → segment 1\'s first step');
console.log('start'.padEnd(58), 'p50'.padStart(8), 'p95'.padStart(8), ' svc running', ' svc ready', ' segment RunTask', '  vs as built');
const built = splitStartFigures(segmentShape, serviceShape, TODAY_CONTROL_PLANE, 'together');
for (const [mode, name] of modes) {
  const f = mode === 'together' ? built : splitStartFigures(segmentShape, serviceShape, TODAY_CONTROL_PLANE, mode);
  console.log(
    name.padEnd(58), s(f.p50).padStart(8), s(f.p95).padStart(8), s(f.serviceRunningP50).padStart(12), s(f.serviceReadyP50).padStart(10), s(f.segmentRunTaskP50).padStart(16),
    `  ${(f.p50 / built.p50).toFixed(2)}× / ${(f.p95 / built.p95).toFixed(2)}×`,
  );
}
// Whether keeping the Lambdas warm pays: what it saves (the two last rows) against what it costs.
const warm = ladder.find((e) => e.name.startsWith('+ keepWarm'))!.figures;
const cold = ladder.find((e) => e.name.startsWith('+ App installation ids'))!.figures;
const cost = keepWarmCost();
console.log(`\nkeepWarm (${cost.functions.map((f) => `${f.name} ${f.memoryMb} MB`).join(', ')}):`);
console.log(`  saves ${(cold.stageP50['control plane'] - warm.stageP50['control plane']).toFixed(2)} s of the control plane at p50, ${(cold.p50 - warm.p50).toFixed(1)} s push → first step p50 (${(((cold.p50 - warm.p50) / cold.p50) * 100).toFixed(1)} %), ${(cold.p95 - warm.p95).toFixed(1)} s at p95`);
console.log(`  scheduled ping: ${cost.pingsPerMonth} invocations a month, $${cost.ping.toFixed(3)} a month (the option)`);
console.log(`  provisioned concurrency 1: $${cost.provisioned.toFixed(2)} a month, billed while idle (not offered)`);
console.log(`  prices: ${Object.values(LAMBDA_PRICES).map((p) => p.source).join('; ')}`);

// A later step with commands (publish, after test) in three task definitions, in one run:
// "ECS order", held by an ECS SUCCESS on test, pulled after test ends (main); "at task start",
// no dependsOn, pulled with the first wave (the branch before START); "START", an ECS START on
// test, pulled once test's container has started, while test waits for the clone and the
// services and runs (core/pipeline/compile.ts, withUpstreamStarts). The model shares one pull
// rate per task (extraction is CPU-bound); each step's commands run STEP_SECONDS.
const STEP_SECONDS = 30;
const pipelineYaml = readFileSync(`${fixtures}pipeline.yml`, 'utf8');
const withLater = `${pipelineYaml}  - name: publish\n    image: example/tool:1\n    commands: [./publish]\n`;
const startHeld = compiledContainers(withLater);
const atTaskStart = startHeld.map((c) => (c.name === 'publish' ? { ...c, dependsOn: undefined } : c));
const ecsOrder = startHeld.map((c) => (c.name === 'publish' ? { ...c, dependsOn: [{ containerName: 'test', condition: 'SUCCESS' as const }] } : c));
console.log(`\na later step (publish, after test), each step's commands ${STEP_SECONDS} s: push → first step (test) p50 / p95, push → build end p50`);
for (const mb of [40, 200]) {
  const images = { megabytes: { tool: mb } };
  const slowdown = registryOf('example/tool:1') === 'docker-hub' ? TASK.dockerHubSlowdown.p50 : 1;
  const alone = (mb * slowdown) / TASK.ecrMegabytesPerSecond.p50 + TASK.registryRoundTrip.p50 + TASK.containerStart.p50;
  console.log(`  ${mb} MB later image (its pull alone at the median rate: ${s(alone)}):`);
  for (const [name, defs] of [['ECS order (SUCCESS on test)', ecsOrder], ['at task start (no dependsOn)', atTaskStart], ['START on test (now)', startHeld]] as const) {
    const f = startFigures({ ...startShape(defs, images), stepSeconds: STEP_SECONDS }, TODAY_CONTROL_PLANE);
    console.log(`    ${name.padEnd(30)} first step ${s(f.p50).padStart(8)} ${s(f.p95).padStart(8)}   build end ${s(f.buildEndP50!).padStart(8)}`);
  }
}

console.log('\nTo confirm with an AWS account: on EC2, the start of a stopped and of a new instance with the ECS agent\'s registration, placement on a running instance, how often a short poll misses the only message; Fargate provisioning and pull rates in the target Region and by task size (1, 2, 4 vCPU), whether the images and layers of a task pull at once, the gain of zstd copies (docs/design/start-fast.md), Docker Hub rate from AWS, GitHub API and SSM PutParameter latency, how often a repository\'s pushes come within 15 minutes of each other, Lambda cold share, the share of an image a SOCI-indexed start still fetches (docs/design/soci-indexes.md), the agent image\'s pushed size (npm run bench -- image-bytes) (see bench/lib/start-measurements.ts: every "assumed" line).');
