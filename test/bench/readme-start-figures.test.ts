// The start figures the README and docs/design quote are what `npm run bench -- start-model`
// prints now (its 20 000 runs and seed), and the clone-token reuse they describe is the code's:
// a compiler or model change that moves a figure fails here until the text follows.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { gitHostPath } from '../../bench/lib/git-host-calls.js';
import { ec2PassProfile } from '../../bench/lib/control-plane-path.js';
import { compiledSplit, deploymentStart, ec2Rows, startBounds, startLadder } from '../../bench/lib/start-ladder.js';
import { serviceTaskShape, splitStartFigures, startShape, TODAY_CONTROL_PLANE } from '../../bench/lib/start-model.js';
import { CLONE_TOKEN_MIN_LIFE_MS } from '../../lambdas/autoscaler/start-stage.js';

const text = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8').replace(/\s+/g, ' ');
const README = text('README.md');
const START_FAST = text('docs/design/start-fast.md');
const SPLIT = text('docs/design/split-pipelines.md');
const fixtures = new URL('../fixtures/start-model/', import.meta.url);
const yaml = readFileSync(new URL('pipeline.yml', fixtures), 'utf8');
const today = JSON.parse(readFileSync(new URL('today.json', fixtures), 'utf8'));
// As the bench measures the control plane (its pending status is beside the queue: start-model.test.ts).
const measured = { statusOnPath: false, gitHost: await gitHostPath() };
const ladder = startLadder(yaml, today, measured);
const defaults = deploymentStart(yaml, measured);
/** `doc` says `sentence` (a failure prints the sentence, not the whole document). */
const says = (doc: string, sentence: string) => expect(doc.includes(sentence), `expected the text to say: ${sentence}`).toBe(true);
const row = (prefix: string) => ladder.find((e) => e.name.startsWith(prefix))!.figures;
const s = (x: number) => `${x.toFixed(1)} s`;

/** The cells of the README table whose header starts with `header`, row by row. */
function tableRows(header: string): string[][] {
  const lines = readFileSync(new URL('../../README.md', import.meta.url), 'utf8').split('\n');
  const start = lines.findIndex((l) => l.startsWith(`| ${header}`));
  expect(start, header).toBeGreaterThan(-1);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(line.split('|').slice(1, -1).map((c) => c.trim()));
  }
  return rows;
}

describe('the Fargate start figures in the README and start-fast.md', () => {
  it("the README's table gives each row's p50 and p95 as the bench prints them, the default deployment's last", () => {
    const figures = [row('today'), row('+ ECR pull-through cache'), row('+ agent image'), row('+ pending status'), row('+ App installation ids'), row('+ keepWarm'), row('+ SOCI copies'), defaults.figures];
    const rows = tableRows('push → first step (model) |');
    expect(rows.map((r) => [r[1], r[2]])).toEqual(figures.map((f) => [s(f.p50), s(f.p95)]));
    expect(rows.at(-1)![0]).toBe(defaults.name);
  });
  it('the default deployment in prose: its figures and ratios to today', () => {
    const ratio = (x: number, y: number) => `${(x / y).toFixed(2)}×`;
    says(README, `${ratio(defaults.figures.p50, row('today').p50)} today's start at p50 (${ratio(defaults.figures.p95, row('today').p95)} at p95) where the rows above reach ${ratio(row('+ SOCI copies').p50, row('today').p50)}`);
    says(START_FAST, `**${s(defaults.figures.p50)} p50 / ${s(defaults.figures.p95)} p95** (${ratio(defaults.figures.p50, row('today').p50)} / ${ratio(defaults.figures.p95, row('today').p95)} of before`);
    says(README, `for a deployment left at its defaults (no Docker Hub secret, SOCI off, keepWarm off: ${s(defaults.figures.p50)} at p50`);
    says(START_FAST, `The Docker Hub secret alone takes it to ${s(row('+ App installation ids').p50)} at p50`);
  });
  it("the GitHub App's share of the control plane: both stage ends as printed, and their difference", () => {
    const before = row('+ pending status').stageP50['control plane'];
    const after = row('+ App installation ids').stageP50['control plane'];
    says(README, `The model puts it at ${(before - after).toFixed(1)} s of the control plane at p50 for a private repository with a GitHub App (${before.toFixed(1)} → ${s(after)} as the bench prints its stage ends)`);
  });
});

describe('the bounds in start-fast.md and the EC2 starts in the README', () => {
  it("start-fast.md's table: each bound's p50, p95 and task size", () => {
    for (const b of startBounds(yaml, ladder.at(-1)!)) says(START_FAST, `| ${s(b.figures.p50)} | ${s(b.figures.p95)} | ${b.vcpu} vCPU |`);
  });
  it("the README's EC2 table: before and now, p50 / p95, for the cases it lists", async () => {
    const rows = ec2Rows(yaml, await ec2PassProfile(), { ...TODAY_CONTROL_PLANE, ...measured });
    const cell = (f: { p50: number; p95: number }) => `${s(f.p50)} / ${s(f.p95)}`;
    const table = tableRows('push → first step (model, EC2) |');
    expect(table.length).toBeGreaterThan(0);
    for (const [, before, now] of table) {
      const r = rows.find((x) => cell(x.before) === before);
      expect(r, `an EC2 case whose figures before are ${before}`).toBeDefined();
      expect(now!.replaceAll('**', '')).toBe(cell(r!.now));
    }
  });
});

describe('the split pipeline figures in the README and split-pipelines.md', () => {
  const split = compiledSplit(readFileSync(new URL('../fixtures/compile-split/services.yml', import.meta.url), 'utf8'));
  const segment = startShape(split.segment);
  const service = serviceTaskShape(split.serviceTask);
  const built = splitStartFigures(segment, service, TODAY_CONTROL_PLANE, 'together');
  const after = splitStartFigures(segment, service, TODAY_CONTROL_PLANE, 'after-running');
  const atAddress = splitStartFigures(segment, service, TODAY_CONTROL_PLANE, 'at-address');

  it('as built, and as it was, in both', () => {
    says(README, `${s(built.p50)} push → first step at the median, against ${s(after.p50)} when the segment waited for the service task to run`);
    const ratio = (f: typeof built) => `${(f.p50 / built.p50).toFixed(2)}× / ${(f.p95 / built.p95).toFixed(2)}×`;
    for (const f of [built, after, atAddress]) says(SPLIT, `| ${s(f.p50)} | ${s(f.p95)} | ${ratio(f)} |`);
    says(SPLIT, `The service task runs at ${s(built.serviceRunningP50)} (median) and its services are ready at ${s(built.serviceReadyP50)}`);
  });
});

describe("the README's clone-token reuse is the autoscaler's", () => {
  it('a token is used again with at least CLONE_TOKEN_MIN_LIFE_MS of its hour left, in both places it is told', () => {
    const minutes = CLONE_TOKEN_MIN_LIFE_MS / 60_000;
    says(README, `a token the instance wrote with at least ${minutes} of its 60 minutes left is used again`);
    says(README, `with at least ${minutes} minutes of its hour left (minted at most ${60 - minutes} minutes ago) is used again`);
  });
});
