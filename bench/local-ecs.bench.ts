// The local ECS stand-in: RunTask → first container started (p50/p95), and how many
// concurrent tasks it sustains here. Bounded: stops by itself.
import { ECSClient, RegisterTaskDefinitionCommand, RunTaskCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import { startLocalEcs } from '../local/ecs/index.js';

const ecs = await startLocalEcs({ maxTasks: 1000, vcpuQuota: 1000 });
const client = new ECSClient({ endpoint: ecs.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
const containerStarted = new Map<string, number>();
ecs.onTaskStateChange((e) => {
  if (!containerStarted.has(e.detail.taskArn) && e.detail.containers.some((c) => c.lastStatus === 'RUNNING')) containerStarted.set(e.detail.taskArn, Date.now());
});
const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((p / 100) * values.length))]!;

await client.send(new RegisterTaskDefinitionCommand({ family: 'bench', containerDefinitions: [{ name: 'main', image: 'alpine', essential: true, entryPoint: ['/bin/sh', '-c'], command: ['sleep 600'], stopTimeout: 2 }] }));

console.log(`isolation: ${ecs.isolation}${ecs.isolationNote ? ` (${ecs.isolationNote})` : ''}`);
// 1. Latency, one task at a time.
const latencies: number[] = [];
for (let i = 0; i < 20; i += 1) {
  const sent = Date.now();
  const out = await client.send(new RunTaskCommand({ taskDefinition: 'bench' }));
  const arn = out.tasks![0]!.taskArn!;
  while (!containerStarted.has(arn)) await new Promise((r) => setTimeout(r, 2));
  latencies.push(containerStarted.get(arn)! - sent);
  await client.send(new StopTaskCommand({ task: arn }));
  await ecs.waitForStopped(arn, 10_000);
}
console.log(`RunTask → first container started, sequential (n=${latencies.length}): p50 ${percentile(latencies, 50)} ms, p95 ${percentile(latencies, 95)} ms`);

// 2. Concurrency: add tasks in batches of 10 until a batch takes too long to start or the cap.
const running: string[] = [];
const cap = Number(process.env.BENCH_MAX_TASKS ?? 200);
let lastBatch = 0;
while (running.length < cap) {
  const sent = Date.now();
  const out = await client.send(new RunTaskCommand({ taskDefinition: 'bench', count: 10 }));
  const arns = out.tasks!.map((t) => t.taskArn!);
  running.push(...arns);
  const deadline = Date.now() + 10_000;
  while (arns.some((a) => !containerStarted.has(a)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  lastBatch = Math.max(...arns.map((a) => (containerStarted.get(a) ?? Infinity) - sent));
  if (!Number.isFinite(lastBatch) || lastBatch > 5000) break;
}
console.log(`concurrent tasks sustained: ${running.length} running at once (last batch of 10 started in ${Number.isFinite(lastBatch) ? `${lastBatch} ms` : 'over 10 s'}; cap ${cap})`);
const stopStart = Date.now();
await ecs.stop();
client.destroy();
console.log(`stopping ${running.length} tasks and tearing down: ${Date.now() - stopStart} ms`);
