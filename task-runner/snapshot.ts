// The workspace between the segments of a pipeline split into several tasks
// (docs/design/split-pipelines.md): the agent of segment n tars its workspace (zstd) and
// PUTs it to a presigned S3 URL once its steps are over; the agent of segment n+1 GETs it
// and extracts it instead of cloning. The agent holds no S3 rights: the control plane signs
// one URL per object and run, which reaches the agent container alone (RunTask override).
//
// The archive carries the step records of every segment so far in a manifest file at the
// workspace's root, written after the last step ended (no step can change it) and removed
// on extraction before any step starts; segment n+1 seeds its record directory from it, so
// `when: status` steps and DRONE_FAILED_STEPS see the steps of earlier segments.
//
// What S3 does, and this code relies on:
// - A presigned URL carries its signer's rights until it expires, and may be used several
//   times (https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-presigned-url.html).
//   One signed with temporary credentials (a Lambda's role) stops working when those expire,
//   whatever its X-Amz-Expires says (https://repost.aws/knowledge-center/presigned-url-s3-bucket-expiration).
// - A single PUT holds at most 5 GB (https://docs.aws.amazon.com/AmazonS3/latest/userguide/upload-objects.html):
//   a larger workspace fails the segment, saying so, before anything is sent.
// - A PUT needs its length up front (no chunked body without aws-chunked signing), so the
//   archive is written to a file first.
// - `If-None-Match: *` makes the PUT fail with 412 when the key exists
//   (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html): a
//   snapshot is written once, never replaced by a retried or duplicated segment.

import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { STEP_SKIPPED_SUFFIX, STEP_UNREACHABLE_SUFFIX, stepExitFile, stepRecordDir, type AgentStepPlan } from '../core/pipeline/contract.js';
import type { StepState, StepStates } from './decide-steps.js';

/** The manifest's name at the root of the archived workspace. */
export const SNAPSHOT_MANIFEST = '.slipway-snapshot.json';

/** S3's limit for one PUT: 5 GB (decimal, as S3 counts it). */
export const MAX_SNAPSHOT_BYTES = 5 * 1000 ** 3;

export class SnapshotError extends Error {
  override readonly name = 'SnapshotError';
}

/** A step container of an earlier segment, and how it ended. */
export interface CarriedStep {
  plan: AgentStepPlan;
  state: Extract<StepState, { phase: 'exited' | 'unreachable' | 'skipped' }>;
}

export interface SnapshotManifest {
  version: 1;
  /** The segment whose agent wrote it. */
  segment: number;
  stageId: string;
  /** Every step container of segments 1..segment, in order. */
  steps: CarriedStep[];
}

/**
 * What the next segment carries: the steps carried in so far, then this segment's, each
 * with its final state (a step still open when the segment ended is left out: the segment
 * did not end normally, and no next segment runs after such an end).
 */
export function carriedSteps(prior: readonly CarriedStep[], steps: readonly AgentStepPlan[], states: StepStates): CarriedStep[] {
  const out = [...prior];
  for (const plan of steps) {
    const state = states[plan.container];
    if (state?.phase === 'exited' || state?.phase === 'unreachable' || state?.phase === 'skipped') out.push({ plan, state });
  }
  return out;
}

export interface SnapshotIo {
  /** The workspace's shared volume (Drone's workspace base): what is archived and restored. */
  base: string;
  url: string;
  signal: AbortSignal;
  log: (line: string) => void;
}

/** Archives the workspace with its manifest and uploads it. Returns the archive's size. */
export async function writeSnapshot(io: SnapshotIo, manifest: SnapshotManifest): Promise<number> {
  const manifestPath = join(io.base, SNAPSHOT_MANIFEST);
  const dir = await mkdtemp(join(tmpdir(), 'slipway-snapshot-'));
  const archive = join(dir, 'workspace.tar.zst');
  try {
    await mkdir(io.base, { recursive: true });
    await writeFile(manifestPath, JSON.stringify(manifest));
    await runTar(['--zstd', '-cf', archive, '-C', io.base, '.'], io.signal, 'archive the workspace');
    const bytes = (await stat(archive)).size;
    if (bytes > MAX_SNAPSHOT_BYTES) {
      throw new SnapshotError(
        `snapshot: the workspace archive is ${bytes} bytes, over the 5 GB S3 allows in one upload: ` +
          'the next segment cannot get it; remove large build outputs before the pipeline is split, or keep the pipeline within 10 containers',
      );
    }
    const res = await send(io.url, 'PUT', io.signal, { 'content-length': String(bytes), 'if-none-match': '*' }, createReadStream(archive));
    const body = await text(res, io.url);
    if (res.statusCode === 412) throw new SnapshotError(`snapshot: ${redact(io.url)} already holds a snapshot (HTTP 412): a segment's snapshot is written once`);
    if (res.statusCode === undefined || res.statusCode < 200 || res.statusCode > 299) {
      throw new SnapshotError(`snapshot: upload to ${redact(io.url)} failed with HTTP ${res.statusCode}${errorCode(body)}`);
    }
    io.log(`snapshot: workspace (${bytes} bytes, zstd) uploaded for segment ${manifest.segment + 1}`);
    return bytes;
  } finally {
    await rm(dir, { recursive: true, force: true });
    await rm(manifestPath, { force: true });
  }
}

/** Downloads the previous segment's archive into the workspace; returns its manifest (removed from the workspace). */
export async function readSnapshot(io: SnapshotIo, expected: { segment: number; stageId: string }): Promise<SnapshotManifest> {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-snapshot-'));
  const archive = join(dir, 'workspace.tar.zst');
  try {
    const res = await send(io.url, 'GET', io.signal, {});
    if (res.statusCode !== 200) {
      const body = await text(res, io.url);
      // S3 answers a missing object 403 AccessDenied to the snapshot signer, which may not list the bucket (API_GetObject.html).
      const missing = res.statusCode === 404 || (res.statusCode === 403 && /<Code>AccessDenied<\/Code>/.test(body) && !/expired/i.test(body));
      throw new SnapshotError(
        `snapshot: the workspace of segment ${expected.segment} could not be read from ${redact(io.url)} (HTTP ${res.statusCode}${errorCode(body)}${missing ? ': no such snapshot' : ''}): ` +
          'this segment cannot start without it',
      );
    }
    await pipeline(res, createWriteStream(archive)).catch((error: Error) => {
      // A reset mid-download ('aborted', ECONNRESET): the segment fails saying where, never with half a workspace.
      throw new SnapshotError(`snapshot: the download of segment ${expected.segment}'s workspace from ${redact(io.url)} broke off: ${error.message}`);
    });
    await mkdir(io.base, { recursive: true });
    await runTar(['--zstd', '-xpf', archive, '-C', io.base], io.signal, 'extract the workspace');
    const manifestPath = join(io.base, SNAPSHOT_MANIFEST);
    let raw: string;
    try {
      raw = await readFile(manifestPath, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      throw new SnapshotError(`snapshot: the archive of segment ${expected.segment} has no ${SNAPSHOT_MANIFEST}: it was not written by a Slipway agent`);
    }
    await rm(manifestPath, { force: true });
    const manifest = checkManifest(raw, expected);
    io.log(`snapshot: workspace of segment ${manifest.segment} restored (${(await stat(archive)).size} bytes), ${manifest.steps.length} earlier step containers`);
    return manifest;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function checkManifest(raw: string, expected: { segment: number; stageId: string }): SnapshotManifest {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    throw new SnapshotError(`snapshot: ${SNAPSHOT_MANIFEST} is not JSON: ${(error as Error).message}`);
  }
  const m = value as Partial<SnapshotManifest>;
  if (m.version !== 1 || !Array.isArray(m.steps)) throw new SnapshotError(`snapshot: ${SNAPSHOT_MANIFEST}: expected version 1 with steps[]`);
  if (m.segment !== expected.segment || m.stageId !== expected.stageId) {
    throw new SnapshotError(
      `snapshot: the archive is segment ${m.segment} of stage ${m.stageId}, expected segment ${expected.segment} of stage ${expected.stageId}`,
    );
  }
  for (const [i, s] of m.steps.entries()) {
    const ok = s && typeof s.plan?.container === 'string' && Array.isArray(s.plan.steps) && ['exited', 'unreachable', 'skipped'].includes(s.state?.phase);
    if (!ok || /[/\\]|^\.\.?$/.test(s.plan.container)) throw new SnapshotError(`snapshot: ${SNAPSHOT_MANIFEST}: steps[${i}] is not a step container's record`);
  }
  return m as SnapshotManifest;
}

/**
 * The earlier segments' final records in the record directory, as their own containers'
 * wrappers (or the agent) wrote them: what status gates and the early-exit check read.
 */
export async function seedRecords(stepsDir: string, carried: readonly CarriedStep[]): Promise<void> {
  for (const { plan, state } of carried) {
    const dir = stepRecordDir(stepsDir, plan.container);
    await mkdir(dir, { recursive: true });
    if (state.phase === 'exited') await writeFile(stepExitFile(stepsDir, plan.container), `${state.exitCode ?? 'unknown'}\n`);
    else if (state.phase === 'skipped') await writeFile(join(dir, `${plan.container}${STEP_SKIPPED_SUFFIX}`), '');
    else await writeFile(join(dir, `${plan.container}${STEP_UNREACHABLE_SUFFIX}`), state.reason);
  }
}

/** The carried steps as the status file counts them (DRONE_FAILED_STEPS). */
export function carriedStates(carried: readonly CarriedStep[]): { steps: AgentStepPlan[]; states: StepStates } {
  return { steps: carried.map((c) => c.plan), states: Object.fromEntries(carried.map((c) => [c.plan.container, c.state])) };
}

function runTar(args: string[], signal: AbortSignal, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('tar', args, { stdio: ['ignore', 'ignore', 'pipe'], signal });
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => {
      err = (err + chunk.toString()).slice(-2000);
    });
    child.on('error', (error) => reject(new SnapshotError(`snapshot: could not ${what}: tar: ${error.message}`)));
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new SnapshotError(`snapshot: could not ${what}: tar exited ${code}${err.trim() ? `: ${err.trim().split('\n').slice(-3).join(' | ')}` : ''}`));
    });
  });
}

function send(url: string, method: 'GET' | 'PUT', signal: AbortSignal, headers: Record<string, string>, body?: Readable): Promise<IncomingMessage> {
  const target = new URL(url);
  const request = target.protocol === 'https:' ? httpsRequest : target.protocol === 'http:' ? httpRequest : undefined;
  if (!request) return Promise.reject(new SnapshotError(`snapshot: ${redact(url)}: expected an http(s) URL`));
  return new Promise((resolve, reject) => {
    const fail = (error: Error) => reject(new SnapshotError(`snapshot: ${method} ${redact(url)}: ${error.message}`));
    const req = request(target, { method, headers, signal }, resolve);
    req.on('error', fail);
    // pipeline, not pipe: a reset while the archive is sent (or a read error of the archive)
    // ends both streams and is this request's error. Once S3 has answered (an early 403 or
    // 412 before the whole body was read), the answer is what the caller reports.
    if (body) pipeline(body, req).catch(fail);
    else req.end();
  });
}

async function text(res: IncomingMessage, url: string): Promise<string> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of res) chunks.push(chunk as Buffer);
  } catch (error) {
    throw new SnapshotError(`snapshot: the answer from ${redact(url)} (HTTP ${res.statusCode}) broke off: ${(error as Error).message}`);
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, 4000);
}

/** S3's error code from its XML body (`<Code>NoSuchKey</Code>`). */
function errorCode(body: string): string {
  const code = /<Code>([^<]{1,64})<\/Code>/.exec(body)?.[1];
  return code ? `, ${code}` : '';
}

/** A presigned URL without its query (the signature and the session token are credentials). */
export function redact(url: string): string {
  if (!URL.canParse(url)) return '(an invalid URL)';
  const u = new URL(url);
  return `${u.origin}${u.pathname}`;
}
