// The planner's secret check (lambdas/planner/secret-check.ts) with the real SDK clients
// against a stand-in answering as SSM and Secrets Manager do (the recorded answers in
// test/fixtures/aws): names only, never values; AWS's paging honoured.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { SSMClient } from '@aws-sdk/client-ssm';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SecretCheckError, awsSecretCheck, parseReference } from '../../lambdas/planner/secret-check.js';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/aws/${name}.json`, import.meta.url), 'utf8')) as Record<string, any>;
const PARAMETER = fixture('ssm-DescribeParameters').Parameters[0];
const SECRET = fixture('secretsmanager-DescribeSecret');
const NOT_FOUND = fixture('secretsmanager-DescribeSecret-ResourceNotFoundException');

/** Which parameter names and secret names exist. */
let parameters = new Set<string>();
let secrets = new Set<string>();
let calls: { target: string; body: Record<string, any> }[] = [];
let throttle = false;
let server: Server;
let endpoint: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target']);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, any>;
      calls.push({ target, body });
      const reply = (status: number, json: unknown) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify(json));
      };
      if (throttle) return reply(400, { __type: 'ThrottlingException', message: 'Rate exceeded' });
      if (target === 'AmazonSSM.DescribeParameters') {
        const filter = body.ParameterFilters[0];
        if (filter.Key !== 'Name' || filter.Option !== 'Equals' || filter.Values.length > 50 || body.MaxResults > 50) {
          return reply(400, { __type: 'InvalidFilterValue', message: 'bad filter' });
        }
        const matches = (filter.Values as string[]).filter((n) => parameters.has(n));
        // Best effort, as AWS documents: an empty first page with a token, then one item per page.
        const page = body.NextToken === undefined ? 0 : Number(body.NextToken);
        const items = page === 0 ? [] : matches.slice(page - 1, page);
        const next = page < matches.length ? String(page + 1) : undefined;
        return reply(200, { Parameters: items.map((Name) => ({ ...PARAMETER, Name })), ...(next ? { NextToken: next } : {}) });
      }
      if (target === 'secretsmanager.DescribeSecret') {
        const name = String(body.SecretId).replace(/^arn:[^:]+:secretsmanager:[^:]*:[^:]*:secret:/, '');
        return secrets.has(name) ? reply(200, { ...SECRET, Name: name }) : reply(400, NOT_FOUND);
      }
      return reply(400, { __type: 'UnknownOperationException' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  parameters = new Set();
  secrets = new Set();
  calls = [];
  throttle = false;
});

const config = () => ({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, maxAttempts: 1 });
const check = () => awsSecretCheck(() => new SSMClient(config()), () => new SecretsManagerClient(config()));

describe('which secrets exist, asked of SSM and Secrets Manager', () => {
  it('reports the missing SSM parameters by their reference, following NextToken across empty pages', async () => {
    parameters = new Set(['/slipway/acme/app/token', '/slipway/acme/app/other']);
    const refs = ['arn:aws:ssm:us-east-1:111122223333:parameter/slipway/acme/app/token', '/slipway/acme/app/other', 'arn:aws:ssm:us-east-1:111122223333:parameter/slipway/acme/app/chat_webhook'];
    expect([...(await check()(refs))]).toEqual(['arn:aws:ssm:us-east-1:111122223333:parameter/slipway/acme/app/chat_webhook']);
    expect(calls.every((c) => c.target === 'AmazonSSM.DescribeParameters')).toBe(true);
    expect(calls.length).toBeGreaterThan(1);
  });

  it('asks at most 50 names per call', async () => {
    const refs = Array.from({ length: 120 }, (_, i) => `/slipway/acme/app/s${i}`);
    parameters = new Set(refs.slice(0, 60));
    expect((await check()(refs)).size).toBe(60);
    expect(Math.max(...calls.map((c) => c.body.ParameterFilters[0].Values.length))).toBe(50);
  });

  it('reports a missing Secrets Manager secret (JSON key and all) and never reads a value', async () => {
    secrets = new Set(['/slipway/acme/app/registry']);
    const present = 'arn:aws:secretsmanager:us-east-1:111122223333:secret:/slipway/acme/app/registry:password::';
    const gone = 'arn:aws:secretsmanager:us-east-1:111122223333:secret:/slipway/acme/app/gone';
    expect([...(await check()([present, gone]))]).toEqual([gone]);
    expect(calls.map((c) => c.target).sort()).toEqual(['secretsmanager.DescribeSecret', 'secretsmanager.DescribeSecret']);
    expect(calls.map((c) => c.body.SecretId)).toContain('arn:aws:secretsmanager:us-east-1:111122223333:secret:/slipway/acme/app/registry');
  });

  it('a check AWS refuses (throttled) is a SecretCheckError naming the cause', async () => {
    throttle = true;
    await expect(check()(['/slipway/acme/app/x'])).rejects.toThrow(SecretCheckError);
    await expect(check()(['/slipway/acme/app/x'])).rejects.toThrow(/could not check .*ThrottlingException/);
  });

  it('parses the references the compiler writes', () => {
    expect(parseReference('arn:aws-cn:secretsmanager:cn-north-1:1:secret:/a/b:k::')).toEqual({ source: 'asm', secretId: 'arn:aws-cn:secretsmanager:cn-north-1:1:secret:/a/b' });
    expect(parseReference('arn:aws-us-gov:ssm:us-gov-west-1:1:parameter/a/b')).toEqual({ source: 'ssm', name: '/a/b' });
    expect(parseReference('/a/b')).toEqual({ source: 'ssm', name: '/a/b' });
  });
});
