// The start model (bench/lib/start-model.ts): its inputs come from the compiled task
// definition, so each structural change moves its figure the way the model says it should.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ContainerDefinition } from '../../core/pipeline/ecs-task.js';
import { gitHostFirstPush } from '../../bench/lib/git-host-calls.js';
import { GIT_HOST_PATH_INSTANCE_ONLY } from '../../bench/lib/start-model.js';
import { pendingStatusOnPath } from '../../bench/lib/control-plane-path.js';
import { gitHostPath } from '../../bench/lib/git-host-calls.js';
import { compiledContainers, compiledSplit, deploymentStart, startBounds, startLadder } from '../../bench/lib/start-ladder.js';
import { DEFAULT_SETTINGS } from '../../lib/config.js';
import { START_P50_SECONDS } from '../../core/doctor/docker-hub-cache.js';
import { BOUNDS, TASK } from '../../bench/lib/start-measurements.js';
import {
  coldShareOf, GIT_HOST_PATH_BEFORE, registryOf, repositoryName, sampleSplitStart, sampleTaskStart, serviceTaskShape, sharedPulls, splitStartFigures, startFigures, startShape, TODAY_CONTROL_PLANE,
} from '../../bench/lib/start-model.js';
import { seededRandom } from '../../core/util/seeded-random.js';
import { AUTOSCALER_PASS_RATE_MINUTES, KEEP_WARM_RATE_MINUTES } from '../../core/config/keep-warm.js';

const fixtures = new URL('../fixtures/start-model/', import.meta.url);
const yaml = readFileSync(new URL('pipeline.yml', fixtures), 'utf8');
const today = JSON.parse(readFileSync(new URL('today.json', fixtures), 'utf8')) as { containerDefinitions: ContainerDefinition[] };
const RUNS = 2000;
/** The Git host calls on the path as the code makes them (git-host-calls.ts), read once. */
const GIT_HOST = await gitHostPath();
const p50 = (containers: ContainerDefinition[]) => startFigures(startShape(containers), TODAY_CONTROL_PLANE, RUNS).p50;
const edit = (containers: ContainerDefinition[], name: string, change: (c: ContainerDefinition) => ContainerDefinition) =>
  containers.map((c) => (c.name === name ? change(structuredClone(c)) : c));

describe('shared pulls (processor sharing of the task rate)', () => {
  it('a pull alone takes work / rate', () => {
    expect(sharedPulls([{ start: 2, work: 100 }], 10)).toEqual([12]);
  });
  it('two pulls at once share the rate: the smaller ends at 2·its work / rate, the larger at the sum / rate', () => {
    const [small, large] = sharedPulls([{ start: 0, work: 50 }, { start: 0, work: 150 }], 10);
    expect(small).toBeCloseTo(10, 9);
    expect(large).toBeCloseTo(20, 9);
  });
  it('a later pull shares only from its start', () => {
    const [first, second] = sharedPulls([{ start: 0, work: 100 }, { start: 5, work: 10 }], 10);
    // 0–5 s alone (50 MB), then both at 5 MB/s: the second ends after 2 s, the first 3 s later.
    expect(second).toBeCloseTo(7, 9);
    expect(first).toBeCloseTo(11, 9);
  });
});

describe('start shape read from the task definition', () => {
  it("today's definition: the step waits for the agent and postgres HEALTHY, full clone, Docker Hub images", () => {
    const shape = startShape(today.containerDefinitions);
    expect(shape.firstSteps).toEqual(['test']);
    expect(shape.clone).toBe('full');
    expect(shape.services).toEqual([{ container: 'db', healthCommand: true, postgres: true }]);
    const test = shape.containers.find((c) => c.name === 'test')!;
    expect(test.dependsOn.map((d) => `${d.containerName}:${d.condition}`)).toEqual(['slipway-agent:HEALTHY', 'db:HEALTHY']);
    expect(test.registry).toBe('docker-hub');
    expect(shape.containers.find((c) => c.name === 'slipway-agent')!.registry).toBe('ecr');
  });
  it('reads registries and repository names from image references', () => {
    expect(registryOf('node:20')).toBe('docker-hub');
    expect(registryOf('123456789012.dkr.ecr.eu-west-1.amazonaws.com/docker-hub/library/node:20')).toBe('ecr');
    expect(repositoryName('123456789012.dkr.ecr.eu-west-1.amazonaws.com/docker-hub/library/node:20')).toBe('node');
    expect(repositoryName('postgres@sha256:abc')).toBe('postgres');
  });
});

describe('the figure follows the task definition', () => {
  const base = p50(today.containerDefinitions);
  it('is reproducible for one seed', () => {
    expect(p50(today.containerDefinitions)).toBe(base);
  });
  it('a step started with the task (its image pulled at once) starts sooner', () => {
    const withTask = edit(today.containerDefinitions, 'test', ({ dependsOn: _, ...c }) => c);
    expect(p50(withTask)).toBeLessThan(base - 5);
  });
  it('images from ECR in the Region pull faster than from Docker Hub', () => {
    const cached = today.containerDefinitions.map((c) => (c.image.includes('.dkr.ecr.') ? c : { ...c, image: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/docker-hub/library/${c.image}` }));
    expect(p50(cached)).toBeLessThan(base);
  });
  it('SOCI indexes lazy-load only images in ECR of 250 MB or more, and then the first step starts sooner', () => {
    const cached = today.containerDefinitions.map((c) => (c.image.includes('.dkr.ecr.') ? c : { ...c, image: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/docker-hub/library/${c.image}` }));
    const lazy = (defs: ContainerDefinition[]) => startShape(defs, { soci: true }).containers.filter((c) => c.lazy).map((c) => c.name);
    expect(lazy(cached)).toEqual(['test']); // node, 390 MB; postgres (150 MB) and the agent stay whole
    expect(lazy(today.containerDefinitions)).toEqual([]); // from Docker Hub: Fargate lazy-loads only from ECR
    const whole = startFigures(startShape(cached), TODAY_CONTROL_PLANE, RUNS).p50;
    expect(startFigures(startShape(cached, { soci: true }), TODAY_CONTROL_PLANE, RUNS).p50).toBeLessThan(whole - 5);
  });
  it('a smaller image pulls sooner: the agent at half its size', () => {
    const agent = startShape(today.containerDefinitions).containers.find((c) => c.name === 'slipway-agent')!.megabytes;
    const smaller = startFigures(startShape(today.containerDefinitions, { megabytes: { 'slipway-agent': agent / 2 } }), TODAY_CONTROL_PLANE, RUNS).stageP50.clone;
    expect(smaller).toBeLessThan(startFigures(startShape(today.containerDefinitions), TODAY_CONTROL_PLANE, RUNS).stageP50.clone);
  });
  it('a slower health check of the service delays the first step', () => {
    const slow = edit(today.containerDefinitions, 'db', (c) => ({ ...c, healthCheck: { ...c.healthCheck!, interval: 30 } }));
    expect(p50(slow)).toBeGreaterThan(base + 5);
  });
  it('a shallow clone in the plan shortens the clone', () => {
    const full = startFigures(startShape(today.containerDefinitions), TODAY_CONTROL_PLANE, RUNS).stageP50.clone;
    const shallow = edit(today.containerDefinitions, 'slipway-agent', (c) => {
      const plan = c.environment!.find((e) => e.name === 'SLIPWAY_PLAN')!;
      plan.value = JSON.stringify({ ...JSON.parse(plan.value), clone: { ...JSON.parse(plan.value).clone, depth: 1 } });
      return c;
    });
    expect(startFigures(startShape(shallow), TODAY_CONTROL_PLANE, RUNS).stageP50.clone).toBeLessThan(full - 3);
  });
  it('the ladder starts from today and compiles the pipeline with the current compiler: the first step comes sooner than today', () => {
    const ladder = startLadder(yaml, today, { statusOnPath: false, gitHost: GIT_HOST }, RUNS);
    expect(ladder[0]!.name).toBe('today');
    // Today's definition is what the compiler wrote before: the step waited for HEALTHY, full clone.
    expect(startShape(ladder[1]!.containerDefinitions).containers.find((c) => c.name === 'test')!.dependsOn).toEqual([]);
    expect(startShape(ladder[1]!.containerDefinitions).clone).toBe('full');
    expect(startShape(ladder[2]!.containerDefinitions).clone).toBe('shallow');
    expect(ladder[2]!.figures.stageP50.clone).toBeLessThan(ladder[1]!.figures.stageP50.clone);
    expect(ladder.at(-1)!.figures.p50).toBeLessThan(ladder[0]!.figures.p50);
    // The smaller agent image: the same definitions as the cache's row, fewer bytes before the clone.
    const agent = ladder.findIndex((e) => e.name.startsWith('+ agent image'));
    expect(ladder[agent]!.containerDefinitions).toBe(ladder[agent - 1]!.containerDefinitions);
    expect(ladder[agent]!.figures.stageP50.clone).toBeLessThan(ladder[agent - 1]!.figures.stageP50.clone);
    expect(ladder.map((e) => e.containerDefinitions.length)).toEqual(ladder.map(() => 3));
    expect(compiledContainers(yaml).map((c) => c.name)).toEqual(['slipway-agent', 'db', 'test']);
  });
  it('the SOCI row is built: the planner names the copy of the node image (390 MB) only, by digest, and the first step comes sooner', () => {
    const ladder = startLadder(yaml, today, { statusOnPath: false, gitHost: GIT_HOST }, RUNS);
    const soci = ladder.findIndex((e) => e.name.startsWith('+ SOCI copies'));
    // Only model-only rows come after it.
    expect(ladder.slice(soci + 1).every((e) => e.name.startsWith('(model only)'))).toBe(true);
    const images = Object.fromEntries(ladder[soci]!.containerDefinitions.map((c) => [c.name, c.image]));
    expect(images.test).toMatch(/\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com\/slipway-soci\/slipway-docker-hub\/library\/node@sha256:[a-f0-9]{64}$/);
    expect(images.db).toMatch(/\/slipway-docker-hub\/library\/postgres:/);
    expect(startShape(ladder[soci]!.containerDefinitions).containers.filter((c) => c.lazy).map((c) => c.name)).toEqual(['test']);
    expect(ladder[soci]!.figures.p50).toBeLessThan(ladder[soci - 1]!.figures.p50 - 5);
  });
});

describe("the control plane's profile is read from the planner's code", () => {
  it('the planner queues the stage and nudges the autoscaler before the Git host answers the pending status', async () => {
    expect(await pendingStatusOnPath()).toBe(false);
  });
  it('the ladder row follows what was read: a status on the path costs a Git host call', () => {
    const row = (statusOnPath: boolean) => startLadder(yaml, today, { statusOnPath, gitHost: GIT_HOST }, RUNS).find((e) => e.name.startsWith('+ pending status'))!;
    expect(row(false).name).toBe('+ pending status beside the queue');
    expect(row(true).name).toBe('+ pending status still before the queue');
    expect(row(false).figures.stageP50['control plane']).toBeLessThan(row(true).figures.stageP50['control plane'] - 0.1);
  });
});

// The ladder's headline rows assume the opt-ins; a deployment at lib/config.ts's DEFAULT_SETTINGS
// has no Docker Hub rule (it needs a credentials secret: lib/pull-through-cache.ts), no SOCI
// copies and no keepWarm.
describe('a deployment left at its defaults', () => {
  const measured = { statusOnPath: false, gitHost: GIT_HOST };
  const ladder = startLadder(yaml, today, measured, RUNS);
  const defaults = deploymentStart(yaml, measured, DEFAULT_SETTINGS, RUNS);
  const row = (prefix: string) => ladder.find((e) => e.name.startsWith(prefix))!;

  it('is named by what the defaults leave off, and pulls node and postgres from Docker Hub as written', () => {
    expect(defaults.name).toBe('a deployment left at its defaults (no Docker Hub secret, SOCI off, keepWarm off)');
    const images = Object.fromEntries(defaults.containerDefinitions.map((c) => [c.name, c.image]));
    expect({ db: images.db, test: images.test }).toEqual({ db: 'postgres:16', test: 'node:20' });
    expect(startShape(defaults.containerDefinitions).containers.map((c) => [c.name, c.registry])).toEqual([
      ['slipway-agent', 'ecr'],
      ['db', 'docker-hub'],
      ['test', 'docker-hub'],
    ]);
    expect(defaults.profile.coldShare).toEqual(TODAY_CONTROL_PLANE.coldShare);
  });
  it('starts sooner than today but later than the rows that assume the Docker Hub rule', () => {
    expect(defaults.figures.p50).toBeLessThan(ladder[0]!.figures.p50);
    expect(defaults.figures.p50).toBeGreaterThan(row('+ App installation ids kept').figures.p50 + 10);
  });
  it('with the opt-ins given, it is the ladder row that assumes them (the same task definitions and profile)', () => {
    const secret = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:ecr-pullthroughcache/docker-hub-AbCdEf';
    const withSecret = deploymentStart(yaml, measured, { ...DEFAULT_SETTINGS, dockerHubCredentialsSecretArn: secret }, RUNS);
    expect(withSecret.name).toBe('a deployment with these settings (Docker Hub secret, SOCI off, keepWarm off)');
    expect(withSecret.containerDefinitions).toEqual(row('+ App installation ids kept').containerDefinitions);
    expect(withSecret.figures).toEqual(row('+ App installation ids kept').figures);
    const all = deploymentStart(yaml, measured, { ...DEFAULT_SETTINGS, dockerHubCredentialsSecretArn: secret, sociReleaseSha256: 'a'.repeat(64), keepWarm: true }, RUNS);
    expect(all.figures).toEqual(row('+ SOCI copies').figures);
  });
  it("the figures `slipway doctor` quotes without the Docker Hub rule are the bench's (its 20 000 runs)", () => {
    const secret = { ...DEFAULT_SETTINGS, dockerHubCredentialsSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:ecr-pullthroughcache/docker-hub-AbCdEf' };
    const p50 = (settings: typeof DEFAULT_SETTINGS) => Number(deploymentStart(yaml, measured, settings).figures.p50.toFixed(1));
    expect({ withoutDockerHubRule: p50(DEFAULT_SETTINGS), withDockerHubRule: p50(secret) }).toEqual(START_P50_SECONDS);
  });
});

// GitHub: an installation token expires an hour after it is minted
// (https://docs.github.com/en/rest/apps/apps#create-an-installation-access-token-for-an-app);
// ECS reads a task's secrets when it starts it
// (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/secrets-envvar-ssm-paramstore.html).
describe("the Git host calls on the path are read from the planner's and the autoscaler's code", () => {
  it("a new instance, for a repository that built before, waits for the token (bought with the installation id on the repository's record) and the file (planner), and for the token, then the write (autoscaler)", () => {
    expect(GIT_HOST.planner.cold).toBe(2);
    expect(GIT_HOST.autoscaler.cold).toEqual({ gitHost: 1, ssmWrites: 1 });
  });
  it("a repository's first push, with nothing kept yet: the installation, the token and the file (planner); the token, with the id the planner put on the job, then the write (autoscaler)", async () => {
    expect(await gitHostFirstPush()).toEqual({ planner: 3, autoscaler: { gitHost: 1, ssmWrites: 1 } });
  });
  it('a new instance needs fewer calls than with the installation id kept in each instance only; no state needs more', () => {
    expect(GIT_HOST.planner.cold).toBeLessThan(GIT_HOST_PATH_INSTANCE_ONLY.planner.cold);
    expect(GIT_HOST.autoscaler.cold.gitHost).toBeLessThan(GIT_HOST_PATH_INSTANCE_ONLY.autoscaler.cold.gitHost);
    for (const state of ['cold', 'warm', 'refreshed'] as const) {
      expect(GIT_HOST.planner[state]).toBeLessThanOrEqual(GIT_HOST_PATH_INSTANCE_ONLY.planner[state]);
      expect(GIT_HOST.autoscaler[state].gitHost).toBeLessThanOrEqual(GIT_HOST_PATH_INSTANCE_ONLY.autoscaler[state].gitHost);
    }
  });
  it('a warm instance within its tokens\' life: the file alone; the clone token of its last start used again, without GitHub or SSM', () => {
    expect(GIT_HOST.planner.warm).toBe(1);
    expect(GIT_HOST.autoscaler.warm).toEqual({ gitHost: 0, ssmWrites: 0 });
  });
  it('a warm instance whose tokens are too old: the installation id is kept, so one call buys a token', () => {
    expect(GIT_HOST.planner.refreshed).toBe(2);
    expect(GIT_HOST.autoscaler.refreshed).toEqual({ gitHost: 1, ssmWrites: 1 });
  });
  it('fewer calls than before in every state, never more', () => {
    for (const state of ['cold', 'warm', 'refreshed'] as const) {
      expect(GIT_HOST.planner[state]).toBeLessThanOrEqual(GIT_HOST_PATH_BEFORE.planner[state]);
      expect(GIT_HOST.autoscaler[state].gitHost).toBeLessThanOrEqual(GIT_HOST_PATH_BEFORE.autoscaler[state].gitHost);
    }
    expect(TODAY_CONTROL_PLANE.gitHost).toBe(GIT_HOST_PATH_BEFORE);
  });
  it('the ladder row follows what was read: fewer calls shorten the control plane; the calls of before change nothing', () => {
    const rows = (gitHost: typeof GIT_HOST) => startLadder(yaml, today, { statusOnPath: false, gitHost }, RUNS);
    const at = (ladder: ReturnType<typeof rows>, prefix: string) => ladder.find((e) => e.name.startsWith(prefix))!;
    const now = rows(GIT_HOST);
    const row = at(now, '+ App installation ids kept');
    const before = at(now, '+ pending status');
    expect(row.profile.gitHost).toBe(GIT_HOST);
    expect(row.figures.stageP50['control plane']).toBeLessThan(before.figures.stageP50['control plane'] - 0.2);
    // The ids on the repository record: a shorter control plane than with them kept in each instance only.
    expect(row.figures.stageP50['control plane']).toBeLessThan(at(rows(GIT_HOST_PATH_INSTANCE_ONLY), '+ App installation ids kept').figures.stageP50['control plane']);
    const unchanged = rows(GIT_HOST_PATH_BEFORE);
    expect(at(unchanged, '+ App installation ids kept').figures).toEqual(at(unchanged, '+ pending status').figures);
  });
});

describe('a split pipeline with services: when segment 1 starts against its service task', () => {
  const split = compiledSplit(readFileSync(new URL('../fixtures/compile-split/services.yml', import.meta.url), 'utf8'));
  const segment = startShape(split.segment);
  const service = serviceTaskShape(split.serviceTask);

  it('reads the services from the service task; the segment asks for them instead of having its own', () => {
    expect(service.services.map((s) => [s.container, s.postgres])).toEqual([['db', true], ['cache', false]]);
    expect(service.containers.map((c) => c.name)).toEqual(['slipway-agent', 'db', 'cache', 'watch']);
    expect(segment.services).toEqual([]);
    expect(segment.firstSteps).toEqual(['seed']);
    expect(() => serviceTaskShape(split.segment)).toThrow(/not a service task/);
  });

  it('as built, the segment is started in the same pass as the service task (before it has an address); before, only after it ran; its first step never comes before the services are ready', () => {
    const random = seededRandom(7);
    for (let i = 0; i < 500; i++) {
      const before = sampleSplitStart(segment, service, TODAY_CONTROL_PLANE, 'after-running', random);
      expect(before.segmentRunTask).toBeGreaterThan(before.service.runningAt);
      expect(before.total).toBeGreaterThanOrEqual(before.service.readyAt);
      const built = sampleSplitStart(segment, service, TODAY_CONTROL_PLANE, 'together', random);
      expect(built.segmentRunTask).toBeLessThan(built.service.addressAt);
      expect(built.total).toBeGreaterThanOrEqual(built.service.readyAt);
    }
  });

  it("starting both at once hides the service task's start behind the segment's: sooner by about that start", () => {
    const before = splitStartFigures(segment, service, TODAY_CONTROL_PLANE, 'after-running', RUNS);
    const built = splitStartFigures(segment, service, TODAY_CONTROL_PLANE, 'together', RUNS);
    expect(before.segmentRunTaskP50).toBeGreaterThan(before.serviceRunningP50);
    expect(built.p50).toBeLessThan(before.p50 - 20);
    // Never sooner than its services are ready.
    expect(built.p50).toBeGreaterThanOrEqual(built.serviceReadyP50);
  });
});

describe('cold starts follow the schedules that invoke each function', () => {
  it('a function scheduled at least every 5 minutes is warm; one only pushes invoke is cold half the time', () => {
    expect(coldShareOf(AUTOSCALER_PASS_RATE_MINUTES)).toBe(0);
    expect(coldShareOf(KEEP_WARM_RATE_MINUTES)).toBe(0);
    expect(coldShareOf(undefined)).toBe(0.5);
    expect(coldShareOf(60)).toBe(0.5);
    expect(TODAY_CONTROL_PLANE.coldShare).toEqual({ webhook: 0.5, planner: 0.5, autoscaler: 0 });
  });
  it('the keepWarm row warms the webhook and the planner, and shortens the control plane', () => {
    const ladder = startLadder(yaml, today, { statusOnPath: false, gitHost: GIT_HOST }, RUNS);
    const cold = ladder.find((e) => e.name.startsWith('+ pending status'));
    const warm = ladder.find((e) => e.name.startsWith('+ keepWarm'));
    expect(warm!.name).toBe('+ keepWarm option (off by default)');
    expect(warm!.profile.coldShare).toEqual({ webhook: 0, planner: 0, autoscaler: 0 });
    expect(cold!.profile.coldShare.webhook).toBe(0.5);
    expect(warm!.figures.stageP50['control plane']).toBeLessThan(cold!.figures.stageP50['control plane'] - 0.3);
  });
});

// Levers and bounds of docs/design/start-fast.md ("What stands between the model and 25 s").
describe('zstd copies (model only): AWS Containers blog 2022-10-13, soci-snapshotter#519', () => {
  const ladder = startLadder(yaml, today, { statusOnPath: false, gitHost: GIT_HOST }, RUNS);
  const soci = ladder.find((e) => e.name.startsWith('+ SOCI copies'))!;
  const zstd = ladder.find((e) => e.name.startsWith('(model only) + zstd copies'))!;
  const cached = today.containerDefinitions.map((c) => (c.image.includes('.dkr.ecr.') ? c : { ...c, image: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/docker-hub/library/${c.image}` }));

  it('applies to images in ECR that Fargate does not lazy-load: a SOCI zTOC needs gzip layers, so the two exclude each other', () => {
    const shape = startShape(zstd.containerDefinitions, zstd.images);
    const of = (name: string) => shape.containers.find((c) => c.name === name)!;
    expect(of('test').lazy).toBe(true);
    expect(of('test').zstd).toBeUndefined();
    expect([of('slipway-agent').zstd, of('db').zstd]).toEqual([true, true]);
    // Images pulled from Docker Hub are as their publisher pushed them.
    expect(startShape(today.containerDefinitions, { zstd: true }).containers.filter((c) => c.zstd).map((c) => c.name)).toEqual(['slipway-agent']);
  });

  it('the same task definition starts sooner with zstd copies than with gzip ones', () => {
    expect(zstd.containerDefinitions).toBe(soci.containerDefinitions);
    expect(zstd.figures.p50).toBeLessThan(soci.figures.p50);
    expect(zstd.figures.stageP50.pulls).toBeLessThan(soci.figures.stageP50.pulls);
  });

  it('a larger image gains more seconds than a smaller one ("the larger container images seeing the greatest improvement")', () => {
    const gain = (mb: number) => {
      const images = { megabytes: { postgres: mb, node: 10, 'slipway-agent': 10 } };
      return startFigures(startShape(cached, images), TODAY_CONTROL_PLANE, RUNS).stageP50['services ready'] - startFigures(startShape(cached, { ...images, zstd: true }), TODAY_CONTROL_PLANE, RUNS).stageP50['services ready'];
    };
    expect(gain(400)).toBeGreaterThan(gain(50));
    expect(gain(50)).toBeGreaterThan(0);
  });
});

describe('bounds between the last row and the goal (start-fast.md)', () => {
  const ladder = startLadder(yaml, today, { statusOnPath: false, gitHost: GIT_HOST }, RUNS);
  const bounds = startBounds(yaml, ladder.at(-1)!, RUNS);
  const row = (prefix: string) => {
    const found = bounds.find((b) => b.name.startsWith(prefix));
    if (!found) throw new Error(`no bound named ${prefix}… in ${bounds.map((b) => b.name).join('; ')}`);
    return found;
  };
  const last = bounds[0]!;
  const floor = row('the floor');

  it("starts from the ladder's last row, on Slipway's default task size", () => {
    expect(last.figures).toEqual(ladder.at(-1)!.figures);
    expect(last.vcpu).toBe(1);
  });

  it('a faster pull rate (a larger task) and a smaller image each bring the first step sooner; together sooner still', () => {
    const twoVcpu = row('+ 2 vCPU');
    const fourVcpu = row('+ 4 vCPU');
    const slim = row('+ node:20-slim (');
    const both = row('+ node:20-slim and 4 vCPU');
    expect(twoVcpu.vcpu).toBe(2);
    expect(fourVcpu.vcpu).toBe(4);
    expect(twoVcpu.figures.p50).toBeLessThan(last.figures.p50);
    // The reported 4-vCPU rate is more than twice the model's median rate.
    expect(BOUNDS.fourVcpuReportedMegabytesPerSecond.value / TASK.ecrMegabytesPerSecond.p50).toBeGreaterThan(BOUNDS.twoVcpuRateFactor.value);
    expect(fourVcpu.figures.p50).toBeLessThan(twoVcpu.figures.p50);
    expect(slim.figures.p50).toBeLessThan(last.figures.p50);
    expect(both.figures.p50).toBeLessThan(Math.min(slim.figures.p50, fourVcpu.figures.p50));
  });

  it('no bound comes below the floor, and the floor still waits for provisioning and the service health check', () => {
    for (const b of bounds) expect(b.figures.p50).toBeGreaterThanOrEqual(floor.figures.p50);
    const dbInterval = compiledContainers(yaml).find((c) => c.name === 'db')!.healthCheck!.interval!;
    // ECS runs the first health check one interval after the container starts.
    expect(floor.figures.stageP50['services ready']).toBeGreaterThan(floor.figures.stageP50.provisioning + dbInterval);
    expect(floor.figures.stageP50.pulls - floor.figures.stageP50.provisioning).toBeLessThan(TASK.registryRoundTrip.p95);
  });
});

// A later step (publish, after test) as the compiler writes it (an ECS START on test), against
// the two forms before it: held by SUCCESS on test (pulled after test ends) and with no
// dependsOn (pulled with the first wave). The model's own figures, not constants.
describe('a later step held by START on the first step', () => {
  const withLater = `${yaml}  - name: publish\n    image: example/tool:1\n    commands: [./publish]\n`;
  const startHeld = compiledContainers(withLater);
  const atTaskStart = startHeld.map((c) => (c.name === 'publish' ? { ...c, dependsOn: undefined } : c));
  const ecsOrder = startHeld.map((c) => (c.name === 'publish' ? { ...c, dependsOn: [{ containerName: 'test', condition: 'SUCCESS' as const }] } : c));
  const figures = (defs: ContainerDefinition[], mb: number) => startFigures({ ...startShape(defs, { megabytes: { tool: mb } }), stepSeconds: 30 }, TODAY_CONTROL_PLANE, RUNS);
  it('is what the compiler writes: publish START on test, read as a later step after test', () => {
    expect(startHeld.find((c) => c.name === 'publish')!.dependsOn).toEqual([{ containerName: 'test', condition: 'START' }]);
    expect(startShape(startHeld).laterSteps).toEqual([{ container: 'publish', after: ['test'] }]);
  });
  it("its pull begins only after test's container started: the sample places it there, sharing the rate with pulls still under way", () => {
    // One sample by hand: the held pull's start is never before test runs, so test's pull (and start) are those of ECS order.
    const shape = { ...startShape(startHeld, { megabytes: { tool: 200 } }), stepSeconds: 30 };
    const ordered = { ...startShape(ecsOrder, { megabytes: { tool: 200 } }), stepSeconds: 30 };
    const a = sampleTaskStart(shape, 10, seededRandom(7));
    const b = sampleTaskStart(ordered, 10, seededRandom(7));
    expect(a.ends.clone).toBe(b.ends.clone);
    expect(a.total).toBeGreaterThanOrEqual(b.total);
  });
  for (const mb of [40, 200]) {
    it(`${mb} MB: first step as in ECS order and sooner than at task start; the build ends no later than either`, () => {
      const held = figures(startHeld, mb);
      const before = figures(atTaskStart, mb);
      const ordered = figures(ecsOrder, mb);
      expect(held.p50).toBeLessThan(before.p50);
      expect(held.p50).toBeLessThanOrEqual(ordered.p50 + 0.5);
      expect(held.buildEndP50!).toBeLessThanOrEqual(before.buildEndP50!);
      expect(held.buildEndP50!).toBeLessThanOrEqual(ordered.buildEndP50!);
    });
  }
});
