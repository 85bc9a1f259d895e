// The AWS error classifier and the retry helper. The errors are the recorded wire answers of
// test/fixtures/aws (sources in SOURCES.md) turned into exceptions by the real ECS client's
// deserializer, so the names, statuses and fields are the SDK's, not hand-made objects.

import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ECSClient, RunTaskCommand } from '@aws-sdk/client-ecs';
import { classifyAwsError, describeRunTaskFailures, embeddedErrorCode, isEcsCapacityReason, isTransactionRefusedByConditions, transactionCancellationCodes } from '../../core/util/aws-errors.js';
import { backoffMs, withRetry } from '../../core/util/retry.js';

interface Recorded { status: number; body: Record<string, unknown> }
const fixture = JSON.parse(readFileSync(new URL('../fixtures/aws/ecs-RunTask-errors.json', import.meta.url), 'utf8')) as {
  errors: Record<string, Recorded>;
  failures: Record<string, Recorded>;
};

/** An ECS client whose every call is answered with `answer`, through the SDK's own deserializer. */
function answering(answer: Recorded): ECSClient {
  return new ECSClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    maxAttempts: 1,
    requestHandler: {
      handle: async () => ({
        response: {
          statusCode: answer.status,
          headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': 'req-1' },
          body: new TextEncoder().encode(JSON.stringify(answer.body)),
        },
      }),
    } as never,
  });
}

async function thrown(name: string): Promise<unknown> {
  try {
    await answering(fixture.errors[name]!).send(new RunTaskCommand({ taskDefinition: 'x' }));
  } catch (err) {
    return err;
  }
  throw new Error(`fixture ${name} did not throw`);
}

describe('classifyAwsError on ECS RunTask errors as the SDK raises them', () => {
  it.each([
    ['capacity-client-exception', 'capacity', true],
    ['vcpu-limit-client-exception', 'capacity', true],
    ['request-limit-in-invalid-parameter', 'throttling', true],
    ['server-exception', 'transient', true],
    ['throttling', 'throttling', true],
    ['conflict', 'conflict', false],
    ['invalid-network', 'fatal', false],
    ['access-denied', 'fatal', false],
    ['concurrent-revision', 'throttling', true],
  ])('%s is %s (retryable: %s)', async (name, kind, retryable) => {
    const info = classifyAwsError(await thrown(name));
    expect([info.kind, info.retryable]).toEqual([kind, retryable]);
  });

  it('keeps the status, and the task ARNs a ConflictException names', async () => {
    const server = classifyAwsError(await thrown('server-exception'));
    expect([server.name, server.status]).toEqual(['ServerException', 500]);
    const conflict = classifyAwsError(await thrown('conflict'));
    expect(conflict.resourceIds).toEqual(['arn:aws:ecs:us-east-1:123456789012:task/slipway/0123456789abcdef0123456789abcdef']);
  });

  it('names the embedded EC2 code that decided', async () => {
    expect(classifyAwsError(await thrown('request-limit-in-invalid-parameter')).name).toBe('RequestLimitExceeded');
    expect(embeddedErrorCode('Request limit exceeded. (ErrorCode: RequestLimitExceeded)')).toBe('RequestLimitExceeded');
    expect(embeddedErrorCode('no code here')).toBeUndefined();
  });

  it('reads RunTask failures[] reasons', () => {
    for (const f of Object.values(fixture.failures)) {
      const reasons = (f.body.failures as { reason: string }[]).map((x) => x.reason);
      expect(reasons.every(isEcsCapacityReason)).toBe(true);
    }
    expect(isEcsCapacityReason('MISSING')).toBe(false);
  });

  it('network errors and DynamoDB names', () => {
    expect(classifyAwsError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })).kind).toBe('transient');
    expect(classifyAwsError({ name: 'ConditionalCheckFailedException', message: 'The conditional request failed', $metadata: { httpStatusCode: 400 } }).kind).toBe('conditional-check');
    expect(classifyAwsError({ name: 'ProvisionedThroughputExceededException', message: 'x', $metadata: { httpStatusCode: 400 } }).kind).toBe('throttling');
    expect(classifyAwsError({ name: 'ResourceNotFoundException', message: 'x' }).kind).toBe('not-found');
    expect(classifyAwsError(new TypeError('undefined is not a function')).kind).toBe('fatal');
  });
});

describe('a cancelled DynamoDB transaction (API_TransactWriteItems: TransactionCanceledException with CancellationReasons)', () => {
  const cancelled = (...codes: string[]) => Object.assign(new Error('Transaction cancelled'), { name: 'TransactionCanceledException', CancellationReasons: codes.map((Code) => ({ Code })) });
  it('is a refusal only when every cause is a refused condition', () => {
    expect(transactionCancellationCodes(cancelled('ConditionalCheckFailed', 'None'))).toEqual(['ConditionalCheckFailed', 'None']);
    expect(isTransactionRefusedByConditions(cancelled('ConditionalCheckFailed', 'None'))).toBe(true);
    expect(isTransactionRefusedByConditions(cancelled('None', 'ConditionalCheckFailed'))).toBe(true);
  });
  it('a conflicting transaction, throttling or no reasons at all is an error of the write', () => {
    expect(isTransactionRefusedByConditions(cancelled('ConditionalCheckFailed', 'TransactionConflict'))).toBe(false);
    expect(isTransactionRefusedByConditions(cancelled('None', 'ThrottlingError'))).toBe(false);
    expect(isTransactionRefusedByConditions(cancelled('None', 'None'))).toBe(false);
    expect(transactionCancellationCodes(Object.assign(new Error('x'), { name: 'TransactionCanceledException' }))).toBeUndefined();
    expect(transactionCancellationCodes(Object.assign(new Error('x'), { name: 'ConditionalCheckFailedException' }))).toBeUndefined();
  });
});

describe('describeRunTaskFailures', () => {
  it('gives each reason with its detail, in one line; none is empty', () => {
    expect(describeRunTaskFailures([{ reason: 'RESOURCE:MEMORY' }, { reason: 'AGENT', detail: 'instance i-1' }, {}])).toBe('RESOURCE:MEMORY; AGENT (instance i-1); unknown');
    expect(describeRunTaskFailures(undefined)).toBe('');
  });
});

describe('withRetry', () => {
  const noSleep = { sleep: async () => {}, random: () => 0.5 };

  it('retries what the classifier calls retryable, then gives the last error unchanged', async () => {
    const err = await thrown('server-exception');
    let calls = 0;
    const out = withRetry(async () => {
      calls++;
      throw err;
    }, { attempts: 4, baseMs: 100, maxMs: 1000, ...noSleep });
    await expect(out).rejects.toBe(err);
    expect(calls).toBe(4);
  });

  it('does not retry a fatal error', async () => {
    const err = await thrown('invalid-network');
    let calls = 0;
    await expect(withRetry(async () => { calls++; throw err; }, { attempts: 5, baseMs: 1, maxMs: 1, ...noSleep })).rejects.toBe(err);
    expect(calls).toBe(1);
  });

  it('returns the first success', async () => {
    const err = await thrown('throttling');
    let calls = 0;
    const value = await withRetry(async (attempt) => {
      calls++;
      if (attempt < 3) throw err;
      return 'ok';
    }, { attempts: 5, baseMs: 1, maxMs: 1, ...noSleep });
    expect([value, calls]).toEqual(['ok', 3]);
  });

  it('backs off exponentially under a cap, with full jitter', async () => {
    expect([1, 2, 3, 4, 10].map((n) => backoffMs(n, 100, 1000, () => 0.999999))).toEqual([99, 199, 399, 799, 999]);
    expect(backoffMs(5, 100, 1000, () => 0)).toBe(0);
    const delays: number[] = [];
    const err = await thrown('throttling');
    await expect(withRetry(async () => { throw err; }, { attempts: 3, baseMs: 100, maxMs: 1000, random: () => 0.5, sleep: async (ms) => void delays.push(ms) })).rejects.toBe(err);
    expect(delays).toEqual([50, 100]);
  });
  it('waits the full ceiling without jitter, or the delays the caller lists', async () => {
    const retryAll = { retryable: () => true, random: () => 0.5 };
    const fail = async (): Promise<never> => {
      throw new Error('not yet');
    };
    const ceilings: number[] = [];
    await expect(withRetry(fail, { attempts: 4, baseMs: 100, maxMs: 300, jitter: false, ...retryAll, sleep: async (ms) => void ceilings.push(ms) })).rejects.toThrow('not yet');
    expect(ceilings).toEqual([100, 200, 300]);
    const listed: number[] = [];
    const list = [300, 1000];
    await expect(withRetry(fail, { attempts: 3, baseMs: 0, maxMs: 0, delayMs: (retry) => list[retry - 1] ?? 0, ...retryAll, sleep: async (ms) => void listed.push(ms) })).rejects.toThrow('not yet');
    expect(listed).toEqual([300, 1000]);
  });

  it('stops when the signal aborts during a back-off, with the last error and no further call', async () => {
    const controller = new AbortController();
    let calls = 0;
    const err = new Error('answered 503');
    const out = withRetry(async () => {
      calls++;
      throw err;
    }, {
      attempts: 2,
      baseMs: 60_000,
      maxMs: 60_000,
      jitter: false,
      retryable: () => true,
      signal: controller.signal,
      onRetry: () => controller.abort(),
    });
    await expect(out).rejects.toBe(err);
    expect(calls).toBe(1);
  });

  it('makes no call after an already aborted signal once the first fails', async () => {
    let calls = 0;
    await expect(withRetry(async () => { calls++; throw new Error('x'); }, { attempts: 3, baseMs: 1, maxMs: 1, retryable: () => true, signal: AbortSignal.abort() })).rejects.toThrow('x');
    expect(calls).toBe(1);
  });
});

describe('one classifier', () => {
  // An error's name read by hand misses what the classifier knows (a not-found under another
  // name, a throttle, a fault); adapters and handlers ask classifyAwsError (or isNotFound, …).
  it('no adapter, Lambda, local stand-in or CLI compares an AWS error name itself', () => {
    const root = new URL('../../', import.meta.url);
    const byHand = /(?<!classifyAwsError\([^)]*\)|info)\.name\s*[!=]==\s*'\w*(?:Exception|NotFound|Fault)'|\(\w+ as Error\)\.name\s*(?:[!=]==|;)/;
    const found: string[] = [];
    for (const dir of ['adapters', 'lambdas', 'local', 'cli', 'task-runner']) {
      for (const file of readdirSync(new URL(dir, root), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'))) {
        readFileSync(new URL(`${dir}/${file}`, root), 'utf8')
          .split('\n')
          .forEach((line, i) => {
            if (byHand.test(line)) found.push(`${dir}/${file}:${i + 1}: ${line.trim()}`);
          });
      }
    }
    expect(found).toEqual([]);
  });
});
