// The autoscaler's two capacities (issue 19): Fargate stages within the vCPU quota, EC2 stages
// one per free instance, and the EC2 fleet sized from zero by the stages waiting for it.
// Pure decisions (core/scaling/decide-scale.ts, core/scaling/ec2-fleet.ts), table tests.
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, decideScale, initialScaleState, type QueuedStage, type RunningTask, type ScaleInput } from '../../core/scaling/decide-scale.js';
import { DEFAULT_KEEP_IDLE_MS, DEFAULT_SPOT_PATIENCE_MS, decideFleet, type FleetInstance } from '../../core/scaling/ec2-fleet.js';

const NOW = 1_700_000_000_000;
const q = (id: string, repo: string, at: number, extra: Partial<QueuedStage> = {}): QueuedStage => ({ id, repo, pipeline: 'default', queuedAt: NOW - 60_000 + at, cpu: 1024, ...extra });
const r = (stageId: string, repo: string, extra: Partial<RunningTask> = {}): RunningTask => ({ stageId, repo, pipeline: 'default', cpu: 1024, ...extra });

function decide(queued: QueuedStage[], running: RunningTask[], ec2?: ScaleInput['ec2'], limits = DEFAULT_LIMITS) {
  const d = decideScale({ now: NOW, queued, running, limits, state: initialScaleState(limits, NOW), ...(ec2 ? { ec2 } : {}) });
  return { start: d.start.map((s) => s.id), deferred: Object.fromEntries(d.deferred.map((x) => [x.stage.id, x.reason])), rejected: d.rejected.map((x) => x.stage.id), details: d.deferred };
}

describe('decideScale with EC2 capacity', () => {
  it('starts an EC2 stage only on a free instance of its architecture, one build per instance', () => {
    const d = decide([q('e1', 'a', 1, { ec2Arch: 'amd64' }), q('e2', 'b', 2, { ec2Arch: 'amd64' }), q('e3', 'c', 3, { ec2Arch: 'arm64' })], [], {
      free: { amd64: 1 },
      booting: { amd64: 1 },
      capacity: ['amd64', 'arm64'],
    });
    expect(d.start).toEqual(['e1']);
    expect(d.deferred).toEqual({ e2: 'ec2-instance', e3: 'ec2-instance' });
    expect(d.details.find((x) => x.stage.id === 'e2')?.detail).toBe('waits for an amd64 EC2 instance (one build per instance; 1 starting)');
  });

  it('never counts EC2 stages against the Fargate vCPU quota, running or starting', () => {
    // 6 vCPU quota: 5 used by Fargate, the running EC2 build's 4 vCPU do not count.
    const running = [r('f', 'x', { cpu: 5 * 1024 }), r('e', 'y', { cpu: 4096, ec2: true })];
    const d = decide([q('e1', 'a', 1, { ec2Arch: 'amd64', cpu: 8192 }), q('f1', 'b', 2, { cpu: 1024 })], running, { free: { amd64: 1 }, booting: {}, capacity: ['amd64'] });
    expect(d.start).toEqual(['e1', 'f1']);
  });

  it('an EC2 stage waiting for an instance holds back no Fargate stage of its repository', () => {
    const d = decide([q('e1', 'a', 1, { ec2Arch: 'amd64' }), q('f1', 'a', 2)], [], { free: {}, booting: {}, capacity: ['amd64'] });
    expect(d.start).toEqual(['f1']);
    expect(d.deferred).toEqual({ e1: 'ec2-instance' });
  });

  it('counts both capacities for the concurrency limit', () => {
    const limits = { ...DEFAULT_LIMITS, maxConcurrent: 2 };
    const d = decide([q('e1', 'a', 1, { ec2Arch: 'amd64' }), q('f1', 'b', 2)], [r('e0', 'c', { ec2: true })], { free: { amd64: 3 }, booting: {}, capacity: ['amd64'] }, limits);
    expect(d.start).toEqual(['e1']);
    expect(d.deferred).toEqual({ f1: 'max-concurrency' });
  });

  it('rejects an EC2 stage of an architecture the deployment has no instances for', () => {
    const d = decide([q('e1', 'a', 1, { ec2Arch: 'arm64' })], [], { free: {}, booting: {}, capacity: ['amd64'] });
    expect(d.rejected).toEqual(['e1']);
  });

  it('without a fleet (local mode) leaves placement to ECS', () => {
    expect(decide([q('e1', 'a', 1, { ec2Arch: 'amd64' }), q('e2', 'a', 2, { ec2Arch: 'amd64' })], []).start).toEqual(['e1', 'e2']);
  });
});

const inst = (instanceId: string, extra: Partial<FleetInstance> = {}): FleetInstance => ({ instanceId, arch: 'amd64', state: 'ready', tasks: 0, spent: false, idleSince: NOW, ...extra });
const fleet = (instances: FleetInstance[], waiting: { amd64?: number; arm64?: number }, maxInstances = 4) =>
  decideFleet({ now: NOW, instances, waiting, maxInstances, keepIdleMs: DEFAULT_KEEP_IDLE_MS });

describe('decideFleet: the EC2 capacity from zero and back', () => {
  it('stays at zero while nothing waits: idle costs nothing', () => {
    expect(fleet([], {})).toEqual({ desired: { amd64: 0, arm64: 0 }, terminate: [], free: { amd64: 0, arm64: 0 }, overLimit: {}, onDemand: {} });
  });

  it('scales from zero by the stages waiting, per architecture', () => {
    expect(fleet([], { amd64: 2, arm64: 1 }).desired).toEqual({ amd64: 2, arm64: 1 });
  });

  it('counts instances already booting and idle ones before adding', () => {
    const d = fleet([inst('i-idle'), inst('i-boot', { state: 'booting' }), inst('i-busy', { tasks: 1 })], { amd64: 3 });
    expect(d.desired.amd64).toBe(4);
    expect(d.free.amd64).toBe(1);
  });

  it('never goes past the maximum across architectures, and says how many wait beyond it', () => {
    const d = fleet([inst('i-busy', { tasks: 1 })], { amd64: 2, arm64: 3 }, 3);
    expect(d.desired).toEqual({ amd64: 3, arm64: 0 });
    expect(d.overLimit).toEqual({ arm64: 3 });
  });

  it('replaces an instance that ran a build with root on it as soon as it is idle, and keeps it while busy', () => {
    const d = fleet([inst('i-spent', { spent: true }), inst('i-spent-busy', { spent: true, tasks: 1 })], { amd64: 1 });
    expect(d.terminate.map((t) => t.instanceId)).toEqual(['i-spent']);
    expect(d.free.amd64).toBe(0);
    expect(d.desired.amd64).toBe(2); // the busy one, and a clean one for the waiting stage
  });

  it('keeps surplus idle instances for a while (warm), then scales in to zero', () => {
    const recent = fleet([inst('i-1', { idleSince: NOW - 60_000 })], {});
    expect(recent.terminate).toEqual([]);
    expect(recent.desired.amd64).toBe(1);
    const old = fleet([inst('i-1', { idleSince: NOW - DEFAULT_KEEP_IDLE_MS })], {});
    expect(old.terminate.map((t) => t.instanceId)).toEqual(['i-1']);
    expect(old.desired.amd64).toBe(0);
  });

  it('keeps the idle instances the waiting stages need, however long idle', () => {
    const d = fleet([inst('i-1', { idleSince: NOW - 3_600_000 }), inst('i-2', { idleSince: NOW - 3_600_000 })], { amd64: 1 });
    expect(d.terminate.map((t) => t.instanceId)).toEqual(['i-1']);
    expect(d.free.amd64).toBe(1);
  });

  it('ignores warm-pool and leaving instances (the group draws on its warm pool itself)', () => {
    const d = fleet([inst('i-warm', { state: 'warm' }), inst('i-gone', { state: 'leaving' })], { amd64: 1 });
    expect(d.desired.amd64).toBe(1);
    expect(d.terminate).toEqual([]);
  });
});

describe('decideFleet: Spot with on-demand fallback', () => {
  const spotFleet = (oldestWaitingMs: number | undefined, instances: FleetInstance[] = [], maxInstances = 4) =>
    decideFleet({
      now: NOW,
      instances,
      waiting: oldestWaitingMs === undefined ? {} : { amd64: 1 },
      maxInstances,
      keepIdleMs: DEFAULT_KEEP_IDLE_MS,
      spot: { amd64: true },
      ...(oldestWaitingMs === undefined ? {} : { oldestWaiting: { amd64: NOW - oldestWaitingMs } }),
    }).onDemand;

  it('stays on Spot while stages wait less than the patience', () => {
    expect(spotFleet(60_000, [inst('i-boot', { state: 'booting' })])).toEqual({ amd64: false });
  });

  it('launches on-demand once a stage has waited past the patience for Spot', () => {
    expect(spotFleet(DEFAULT_SPOT_PATIENCE_MS, [inst('i-boot', { state: 'booting' })])).toEqual({ amd64: true });
  });

  it('goes back to Spot when nothing waits', () => {
    expect(spotFleet(undefined)).toEqual({ amd64: false });
  });

  it('does not blame Spot for a wait the maximum causes', () => {
    expect(spotFleet(DEFAULT_SPOT_PATIENCE_MS, [inst('i-busy', { tasks: 1 })], 1)).toEqual({ amd64: false });
  });

  it('says nothing of an on-demand group', () => {
    expect(decideFleet({ now: NOW, instances: [], waiting: { amd64: 1 }, maxInstances: 2, keepIdleMs: 1, oldestWaiting: { amd64: 0 } }).onDemand).toEqual({});
  });
});
