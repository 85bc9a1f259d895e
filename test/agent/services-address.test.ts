// The service task's address for a first segment started beside it (task-runner/services-address.ts),
// against local mode's snapshot bucket (local/snapshot-bucket.ts, as strict as S3 with the URLs
// the control plane signs) and a task metadata endpoint that shows the task's address only once
// it has one, as Fargate's does (Networks[].IPv4Addresses).

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { servicesAddressKey } from '../../core/pipeline/segments.js';
import { startSnapshotBucket, type SnapshotBucket } from '../../local/snapshot-bucket.js';
import { parseTaskMetadata } from '../../task-runner/metadata.js';
import { parseServicesAddress, publishServicesAddress, readServicesAddress } from '../../task-runner/services-address.js';

let bucket: SnapshotBucket;
let metadata: Server;
let metadataUri: string;
/** What the metadata endpoint shows as the task's address (none while the task has no interface). */
let taskAddress: string | undefined;

beforeAll(async () => {
  bucket = await startSnapshotBucket(mkdtempSync(join(tmpdir(), 'slipway-services-address-')));
  metadata = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ TaskARN: 'arn:task/svc', Containers: [{ Name: 'slipway-agent', KnownStatus: 'RUNNING', Networks: taskAddress ? [{ NetworkMode: 'awsvpc', IPv4Addresses: [taskAddress] }] : [] }] }));
  });
  await new Promise<void>((resolve) => metadata.listen(0, '127.0.0.1', () => resolve()));
  metadataUri = `http://127.0.0.1:${(metadata.address() as AddressInfo).port}/v4/agent`;
});
afterAll(async () => {
  await bucket.close();
  await new Promise((resolve) => metadata.close(resolve));
});

let n = 0;
const urls = () => {
  n += 1;
  const key = servicesAddressKey(`build-${n}`, 1);
  return { put: bucket.presign(key, 'PUT', 600), get: bucket.presign(key, 'GET', 600) };
};
const signal = new AbortController().signal;

describe('the service task address between the service task and the first segment', () => {
  it('the segment waits while the address is not there (403 AccessDenied, as S3 answers the signer, which may not list the bucket), and reads it once the service task has left it', async () => {
    taskAddress = undefined;
    const { put, get } = urls();
    const lines: string[] = [];
    const reading = readServicesAddress({ url: get, signal, log: (l) => lines.push(l), timeoutMs: 120_000 });
    const publishing = publishServicesAddress({ url: put, metadataUri, signal, log: () => {}, timeoutMs: 120_000 });
    // The task has no address yet: nothing is written, the segment keeps waiting.
    while (!lines.some((l) => l.includes('has not started yet'))) await new Promise((r) => setTimeout(r, 20));
    taskAddress = '169.254.7.2';
    expect(await publishing).toEqual({ ok: true, address: '169.254.7.2' });
    expect(await reading).toEqual({ ok: true, address: '169.254.7.2' });
    expect(lines.join('\n')).not.toContain('X-Slipway-Signature');
  });

  it('is written once: a second PUT (412) counts as done and leaves the first address', async () => {
    const { put, get } = urls();
    taskAddress = '10.0.3.4';
    expect(await publishServicesAddress({ url: put, metadataUri, signal, log: () => {}, timeoutMs: 60_000 })).toEqual({ ok: true, address: '10.0.3.4' });
    taskAddress = '10.9.9.9';
    expect(await publishServicesAddress({ url: put, metadataUri, signal, log: () => {}, timeoutMs: 60_000 })).toEqual({ ok: true, address: '10.9.9.9' });
    expect(await readServicesAddress({ url: get, signal, log: () => {}, timeoutMs: 60_000 })).toEqual({ ok: true, address: '10.0.3.4' });
  });

  it('the segment gives up after its wait, saying why, when the address never comes', async () => {
    const { get } = urls();
    const result = await readServicesAddress({ url: get, signal, log: () => {}, timeoutMs: 300 });
    expect(result).toEqual({ ok: false, message: expect.stringMatching(/^the service task's address was not known after 0 s: the service task has not started yet$/) });
  });

  it('stops waiting at once when the agent is stopped', async () => {
    const { get } = urls();
    const stop = new AbortController();
    const reading = readServicesAddress({ url: get, signal: stop.signal, log: () => {}, timeoutMs: 120_000 });
    stop.abort();
    expect(await reading).toEqual({ ok: false, aborted: true });
  });

  it('takes only an IP address from what it reads', () => {
    expect(parseServicesAddress('{"address":"10.0.0.5"}')).toEqual({ address: '10.0.0.5' });
    expect(parseServicesAddress('{"address":"fd00::5"}')).toEqual({ address: 'fd00::5' });
    expect(parseServicesAddress('{"address":"db; rm -rf /"}')).toMatchObject({ why: expect.stringContaining('expected {"address": "<IP address>"}') });
    expect(parseServicesAddress('<Error/>')).toEqual({ why: 'an answer that is not JSON' });
    expect(parseServicesAddress(`{"address":"${'1'.repeat(2000)}"}`)).toMatchObject({ why: expect.stringContaining('characters') });
  });

  it('the task metadata gives the task\'s address from its containers\' networks (Fargate\'s v4 shape)', () => {
    expect(parseTaskMetadata({ Containers: [{ Name: 'a', Networks: [{ NetworkMode: 'awsvpc', IPv4Addresses: ['192.0.2.3'] }] }] }).address).toBe('192.0.2.3');
    expect(parseTaskMetadata({ Containers: [{ Name: 'a' }] }).address).toBeUndefined();
  });
});
