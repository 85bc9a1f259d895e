// A segment of a split pipeline starts with more in its RunTask overrides than the compiler
// wrote: the autoscaler adds the snapshot URLs and what is left of the timeout
// (lambdas/autoscaler/start-stage.ts segmentEnvironment) beside the build's upstream state.
// RunTask allows 8192 characters of overrides, their JSON formatting included
// (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html, `overrides`),
// so the compiler keeps room for them (core/pipeline/override-budget.ts SEGMENT_RESERVE).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compilePipeline } from '../../core/pipeline/compile.js';
import { AGENT_CONTAINER, AGENT_ENV } from '../../core/pipeline/contract.js';
import { MAX_OVERRIDE_CHARS } from '../../core/pipeline/limits.js';
import { loadManifest } from '../../core/pipeline/load.js';
import { SERVICE_TASK_RESERVE, SNAPSHOT_URL_MAX_CHARS, TRUNCATION_MARKER, UPSTREAM_RESERVE } from '../../core/pipeline/override-budget.js';
import type { StageJob } from '../../core/scaling/job.js';
import type { ExecutionConfig } from '../../lambdas/autoscaler/config.js';
import { runTaskInput } from '../../lambdas/autoscaler/start-stage.js';
import { fixtureContext, fixtureOptions } from '../compiler/support.js';

const text = readFileSync(new URL('../fixtures/compile-split/linear.yml', import.meta.url), 'utf8');
const config = { cluster: 'c', subnets: ['s'], securityGroups: [], assignPublicIp: 'ENABLED' } as unknown as ExecutionConfig;

function compileWithMessage(message: string) {
  const manifest = loadManifest('.drone.yml', text);
  const { context } = fixtureContext(text);
  const ctx = { ...context, commit: { ...context.commit, message, author: { ...context.commit.author, name: 'n'.repeat(3000) } } };
  return compilePipeline(manifest.pipelines[0]!, ctx, { ...fixtureOptions(text), splitPipelines: true }, { file: '.drone.yml', secrets: manifest.secrets, stageNumber: 1 });
}

describe("a split pipeline's overrides keep room for the snapshot URLs", () => {
  it('a 100 KB commit message, the longest URLs, the longest timeout and a full upstream state still fit in 8192 characters, in every segment', () => {
    const stage = compileWithMessage(`Merge\n\n${'a long line of a commit message that goes on\n'.repeat(2500)}`);
    expect(stage.segments?.length).toBeGreaterThan(1);
    const url = (method: string) => `https://b.s3.eu-west-1.amazonaws.com/${method}?${'x'.repeat(SNAPSHOT_URL_MAX_CHARS)}`.slice(0, SNAPSHOT_URL_MAX_CHARS);
    const upstream = { failedStages: Array.from({ length: 200 }, (_, i) => `a-failed-pipeline-with-a-long-name-${i}`), buildStarted: 1_700_000_000 };
    for (const segment of stage.segments!) {
      const job = { stageKey: 'acme/app#42/1', runTask: segment.runTask } as unknown as StageJob;
      const segmentEnv = [
        { name: AGENT_ENV.timeoutSeconds, value: String(24 * 60 * 60) },
        { name: AGENT_ENV.snapshotIn, value: url('in') },
        { name: AGENT_ENV.snapshotOut, value: url('out') },
      ];
      const input = runTaskInput(config, job, 'arn:td', 'FARGATE', { clientToken: 't', startedBy: 's' }, upstream, segmentEnv);
      const chars = JSON.stringify(input.overrides).length;
      expect(chars, `segment ${segment.number}`).toBeLessThanOrEqual(MAX_OVERRIDE_CHARS);
      // The room was not taken from the upstream state's: what the compiler wrote leaves both.
      expect(JSON.stringify(segment.runTask.overrides).length).toBeLessThanOrEqual(MAX_OVERRIDE_CHARS - UPSTREAM_RESERVE - 2 * SNAPSHOT_URL_MAX_CHARS);
      const agent = input.overrides!.containerOverrides!.find((o) => o.name === AGENT_CONTAINER)!;
      expect(agent.environment!.find((e) => e.name === AGENT_ENV.snapshotOut)?.value).toBe(url('out'));
    }
    // The message was cut to make that room, and the stage says so.
    const sent = JSON.parse(stage.runTask.overrides!.containerOverrides!.find((o) => o.name === AGENT_CONTAINER)!.environment!.find((e) => e.name === AGENT_ENV.build)!.value!);
    expect(sent.commit.message.endsWith(TRUNCATION_MARKER)).toBe(true);
    expect(stage.notes.join('\n')).toMatch(/commit message \(\d+ characters\).* cut to \d+ characters/);
  });

  it('a stage that is not split keeps its whole budget (only the upstream state is reserved)', () => {
    const single = `kind: pipeline\ntype: docker\nname: one\nsteps:\n  - name: a\n    image: alpine:3\n    commands: [true]\n  - name: p\n    image: plugins/s3\n    settings: { bucket: b }\n`;
    const manifest = loadManifest('.drone.yml', single);
    const { context } = fixtureContext(single);
    const ctx = { ...context, commit: { ...context.commit, message: 'm'.repeat(100_000) } };
    const stage = compilePipeline(manifest.pipelines[0]!, ctx, fixtureOptions(single), { file: '.drone.yml', secrets: manifest.secrets, stageNumber: 1 });
    expect(stage.segments).toBeUndefined();
    expect(JSON.stringify(stage.runTask.overrides).length).toBeGreaterThan(MAX_OVERRIDE_CHARS - UPSTREAM_RESERVE - 2 * SNAPSHOT_URL_MAX_CHARS);
  });

  it("a split pipeline with services: segment 1 started beside its service task (the address's URL instead of a snapshot's) and the service task (the URL it leaves its address at) both fit, with a 100 KB commit message", () => {
    const services = readFileSync(new URL('../fixtures/compile-split/services.yml', import.meta.url), 'utf8');
    const manifest = loadManifest('services.yml', services);
    const { context } = fixtureContext(services);
    const ctx = { ...context, commit: { ...context.commit, message: 'm'.repeat(100 * 1024) } };
    const stage = compilePipeline(manifest.pipelines[0]!, ctx, { ...fixtureOptions(services), splitPipelines: true }, { file: 'services.yml', stageNumber: 1 });
    expect(stage.serviceTask).toBeDefined();
    const url = (method: string) => `https://b.s3.eu-west-1.amazonaws.com/${method}?${'x'.repeat(SNAPSHOT_URL_MAX_CHARS)}`.slice(0, SNAPSHOT_URL_MAX_CHARS);
    const upstream = { failedStages: Array.from({ length: 200 }, (_, i) => `a-failed-pipeline-with-a-long-name-${i}`), buildStarted: 1_700_000_000 };
    const timeLeft = { name: AGENT_ENV.timeoutSeconds, value: String(24 * 60 * 60) };
    const first = stage.segments![0]!;
    const segmentInput = runTaskInput(config, { stageKey: 'acme/app#42/1', runTask: first.runTask } as unknown as StageJob, 'arn:td', 'FARGATE', { clientToken: 't', startedBy: 's' }, upstream, [
      timeLeft,
      { name: AGENT_ENV.snapshotOut, value: url('out') },
      { name: AGENT_ENV.servicesAddressIn, value: url('address') },
    ]);
    expect(JSON.stringify(segmentInput.overrides).length).toBeLessThanOrEqual(MAX_OVERRIDE_CHARS);
    const serviceInput = runTaskInput(config, { stageKey: 'acme/app#42/1', runTask: stage.serviceTask!.runTask } as unknown as StageJob, 'arn:td', 'FARGATE', { clientToken: 't', startedBy: 's' }, upstream, [
      timeLeft,
      { name: AGENT_ENV.servicesAddressOut, value: url('address') },
    ]);
    expect(JSON.stringify(serviceInput.overrides).length).toBeLessThanOrEqual(MAX_OVERRIDE_CHARS);
    // The service task's own compile kept that room: its message was cut for it too.
    expect(JSON.stringify(stage.serviceTask!.runTask.overrides).length).toBeLessThanOrEqual(MAX_OVERRIDE_CHARS - UPSTREAM_RESERVE - SERVICE_TASK_RESERVE);
  });
});
