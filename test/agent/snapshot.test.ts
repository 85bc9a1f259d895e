// The workspace snapshot between segments (task-runner/snapshot.ts) against local mode's
// bucket (local/snapshot-bucket.ts), which answers as S3 does for the URLs the control
// plane signs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';

import type { AgentStepPlan } from '../../core/pipeline/contract.js';
import { snapshotKey } from '../../core/pipeline/segments.js';
import { localSnapshotUrls, startSnapshotBucket, type SnapshotBucket } from '../../local/snapshot-bucket.js';
import { readStepRecords } from '../../task-runner/step-records.js';
import { SNAPSHOT_MANIFEST, SnapshotError, carriedSteps, carriedStates, readSnapshot, seedRecords, writeSnapshot, type SnapshotManifest } from '../../task-runner/snapshot.js';
import { statusFileContent } from '../../task-runner/status-file.js';

let bucket: SnapshotBucket;
const root = mkdtempSync(join(tmpdir(), 'slipway-snapshot-test-'));
let clock = Date.now();

beforeAll(async () => {
  bucket = await startSnapshotBucket(join(root, 'bucket'), { now: () => clock });
});
afterAll(async () => {
  await bucket.close();
});

const signal = new AbortController().signal;
const log = () => {};
const step = (container: string, extra: Partial<AgentStepPlan> = {}): AgentStepPlan => ({ container, steps: [container], detach: false, failure: 'always', dependsOn: [], ...extra });

function manifest(segment: number, steps: SnapshotManifest['steps'] = []): SnapshotManifest {
  return { version: 1, segment, stageId: 'b1-2', steps };
}

let n = 0;
function key(): string {
  n += 1;
  return snapshotKey(`build-${n}`, 2, 1, 0);
}

describe('workspace snapshots between segments', () => {
  it('a workspace written in segment 1 is the workspace of segment 2: files, modes, symlinks, empty directories, and no manifest left behind', async () => {
    const a = join(root, 'a');
    mkdirSync(join(a, 'dist/empty'), { recursive: true });
    writeFileSync(join(a, 'dist/app.js'), 'console.log(1)\n');
    writeFileSync(join(a, 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
    symlinkSync('dist/app.js', join(a, 'latest'));
    const k = key();
    const carried = carriedSteps([], [step('build'), step('lint', { failure: 'ignore' })], {
      build: { phase: 'exited', exitCode: 0 },
      lint: { phase: 'exited', exitCode: 2 },
    });
    await writeSnapshot({ base: a, url: bucket.presign(k, 'PUT', 600), signal, log }, manifest(1, carried));
    expect(existsSync(join(a, SNAPSHOT_MANIFEST))).toBe(false);

    const b = join(root, 'b');
    const got = await readSnapshot({ base: b, url: bucket.presign(k, 'GET', 600), signal, log }, { segment: 1, stageId: 'b1-2' });
    expect(readFileSync(join(b, 'dist/app.js'), 'utf8')).toBe('console.log(1)\n');
    expect(statSync(join(b, 'run.sh')).mode & 0o777).toBe(0o755);
    expect(lstatSync(join(b, 'latest')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(b, 'latest'))).toBe('dist/app.js');
    expect(statSync(join(b, 'dist/empty')).isDirectory()).toBe(true);
    expect(existsSync(join(b, SNAPSHOT_MANIFEST))).toBe(false);
    expect(got.steps.map((s) => [s.plan.container, s.state])).toEqual([
      ['build', { phase: 'exited', exitCode: 0 }],
      ['lint', { phase: 'exited', exitCode: 2 }],
    ]);
  });

  it('a snapshot is written once: a second upload to its key (a retried or duplicated segment) fails with 412 (S3 If-None-Match: *)', async () => {
    const a = join(root, 'once');
    mkdirSync(a, { recursive: true });
    writeFileSync(join(a, 'f'), 'first');
    const k = key();
    await writeSnapshot({ base: a, url: bucket.presign(k, 'PUT', 600), signal, log }, manifest(1));
    writeFileSync(join(a, 'f'), 'second');
    await expect(writeSnapshot({ base: a, url: bucket.presign(k, 'PUT', 600), signal, log }, manifest(1))).rejects.toThrow(/already holds a snapshot \(HTTP 412\)/);
    const b = join(root, 'once-read');
    await readSnapshot({ base: b, url: bucket.presign(k, 'GET', 600), signal, log }, { segment: 1, stageId: 'b1-2' });
    expect(readFileSync(join(b, 'f'), 'utf8')).toBe('first');
  });

  it('a missing snapshot fails the segment with the HTTP status and S3 code, never an empty workspace', async () => {
    const err = await readSnapshot({ base: join(root, 'missing'), url: bucket.presign(key(), 'GET', 600), signal, log }, { segment: 1, stageId: 'b1-2' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SnapshotError);
    expect((err as Error).message).toMatch(/workspace of segment 1 could not be read from http:\/\/127\.0\.0\.1:\d+\/builds\/[0-9a-f]{32}\/2\/1-0\.tar\.zst \(HTTP 403, AccessDenied: no such snapshot\): this segment cannot start without it/);
    // The URL's signature is a credential: never in a message.
    expect((err as Error).message).not.toContain('Signature');
  });

  it('an expired URL is refused (403 AccessDenied, as S3 answers)', async () => {
    const url = bucket.presign(key(), 'GET', 60);
    clock += 61_000;
    await expect(readSnapshot({ base: join(root, 'expired'), url, signal, log }, { segment: 1, stageId: 'b1-2' })).rejects.toThrow(/HTTP 403, AccessDenied/);
  });

  it('the stand-in bucket refuses what S3 refuses for these URLs: a PUT without If-None-Match, a PUT with a GET URL, a GET with a PUT URL', async () => {
    const k = key();
    const status = (url: string, method: string, headers: Record<string, string>) =>
      new Promise<number>((ok, fail) => {
        const req = request(url, { method, headers }, (res) => {
          res.resume();
          ok(res.statusCode ?? 0);
        });
        req.on('error', fail);
        req.end(method === 'PUT' ? 'x' : undefined);
      });
    expect(await status(bucket.presign(k, 'PUT', 60), 'PUT', { 'content-length': '1' })).toBe(403);
    expect(await status(bucket.presign(k, 'GET', 60), 'PUT', { 'content-length': '1', 'if-none-match': '*' })).toBe(403);
    expect(await status(bucket.presign(k, 'PUT', 60), 'GET', {})).toBe(403);
    expect(await status(bucket.presign(k, 'PUT', 60), 'PUT', { 'content-length': '1', 'if-none-match': '*' })).toBe(200);
    expect(() => bucket.presign(k, 'GET', 604_801)).toThrow(/1 to 604800 seconds/);
    // The control plane's port over it signs the same URLs.
    expect(await status(await localSnapshotUrls(bucket).url(k, 'GET', 60), 'GET', {})).toBe(200);
  });

  it("the archive of another stage or segment is refused (a URL mix-up must not hand one build's workspace to another)", async () => {
    const a = join(root, 'other');
    mkdirSync(a, { recursive: true });
    const k = key();
    await writeSnapshot({ base: a, url: bucket.presign(k, 'PUT', 600), signal, log }, { ...manifest(1), stageId: 'b9-1' });
    await expect(readSnapshot({ base: join(root, 'other-read'), url: bucket.presign(k, 'GET', 600), signal, log }, { segment: 1, stageId: 'b1-2' })).rejects.toThrow(
      /the archive is segment 1 of stage b9-1, expected segment 1 of stage b1-2/,
    );
  });

  it("seeded records are the earlier segments' steps as status gates and DRONE_FAILED_STEPS see them", async () => {
    const stepsDir = join(root, 'state/steps');
    const carried = carriedSteps([], [step('build'), step('test'), step('notify', { failure: 'always' }), step('lint', { failure: 'ignore' })], {
      build: { phase: 'exited', exitCode: 0 },
      test: { phase: 'exited', exitCode: 1 },
      notify: { phase: 'skipped', reason: 'runs only when the build is failing, and no step failed', started: true },
      lint: { phase: 'exited', exitCode: 3 },
    });
    await seedRecords(stepsDir, carried);
    const records = await readStepRecords(stepsDir);
    expect(records.exits['build']?.exitCode).toBe(0);
    expect(records.exits['test']?.exitCode).toBe(1);
    expect([...records.skipMarks]).toEqual(['notify']);
    expect([...records.recorded].sort()).toEqual(['build', 'lint', 'notify', 'test']);

    const { steps, states } = carriedStates(carried);
    const content = statusFileContent({ steps: [...steps, step('report')], states, upstream: { failedStages: [] }, stageStarted: 100, now: 200 });
    expect(content).toContain("DRONE_FAILED_STEPS='test'");
    expect(content).toContain("DRONE_BUILD_STATUS='failure'");
    expect(content).toContain("slipway_status_ended=' build test notify lint '");
  });

  describe('the store resets the connection mid-answer: the segment fails saying where, with no unhandled error', () => {
    /** Answers every request with `head` and part of its body, then resets the connection (RST). */
    async function resetting(head: string): Promise<{ url: string; close(): Promise<void> }> {
      const sockets = new Set<Socket>();
      const server: Server = createTcpServer((socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => undefined); // our own reset
        socket.once('data', () => {
          socket.write(head);
          socket.resetAndDestroy();
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return {
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/snapshots/k?X-Signature=secret`,
        close: async () => {
          for (const socket of sockets) socket.destroy();
          await new Promise<void>((resolve) => server.close(() => resolve()));
        },
      };
    }

    it('a download cut off after its headers', async () => {
      const store = await resetting('HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n(part of an archive)');
      try {
        const err = await readSnapshot({ base: join(root, 'reset-get'), url: store.url, signal, log }, { segment: 1, stageId: 'b1-2' }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(SnapshotError);
        expect((err as Error).message).toMatch(/^snapshot: the download of segment 1's workspace from http:\/\/127\.0\.0\.1:\d+\/snapshots\/k broke off: /);
        expect((err as Error).message).not.toContain('secret');
      } finally {
        await store.close();
      }
    });

    it('an error answer cut off mid-body (GET and PUT), and a reset before any answer', async () => {
      const store = await resetting('HTTP/1.1 403 Forbidden\r\ncontent-length: 1000\r\n\r\n<Error><Code>Acc');
      try {
        await expect(readSnapshot({ base: join(root, 'reset-403'), url: store.url, signal, log }, { segment: 1, stageId: 'b1-2' })).rejects.toThrow(
          /^snapshot: the answer from http:\/\/127\.0\.0\.1:\d+\/snapshots\/k \(HTTP 403\) broke off: /,
        );
        const a = join(root, 'reset-put');
        mkdirSync(a, { recursive: true });
        writeFileSync(join(a, 'big'), Buffer.alloc(4 * 1024 * 1024, 1));
        await expect(writeSnapshot({ base: a, url: store.url, signal, log }, manifest(1))).rejects.toBeInstanceOf(SnapshotError);
      } finally {
        await store.close();
      }
      const silent = await resetting('');
      try {
        await expect(readSnapshot({ base: join(root, 'reset-none'), url: silent.url, signal, log }, { segment: 1, stageId: 'b1-2' })).rejects.toThrow(
          /^snapshot: GET http:\/\/127\.0\.0\.1:\d+\/snapshots\/k: (read ECONNRESET|socket hang up)/,
        );
      } finally {
        await silent.close();
      }
    });
  });
});
