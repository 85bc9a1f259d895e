// A small SSM Parameter Store stand-in for the SDK's SSMClient (AWS JSON 1.1 protocol:
// `POST /` with `X-Amz-Target: AmazonSSM.<Action>`), with only what Slipway calls:
// PutParameter, GetParameter, DeleteParameter. As strict as SSM where Slipway relies on it
// (https://docs.aws.amazon.com/systems-manager/latest/APIReference/): names of
// `a-zA-Z0-9_.-/` only, not starting with aws/ssm; PutParameter without Overwrite refuses
// an existing name (ParameterAlreadyExists); an unknown name is ParameterNotFound; a
// SecureString read without WithDecryption returns ciphertext, not the value; a standard-tier
// value holds at most 4096 characters (the message AWS answers, quoted in aws/aws-sdk-net#3157;
// tiers: https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html).
// Error bodies are the recorded shapes of test/fixtures/aws/.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';

export interface SsmCall {
  action: string;
  input: Record<string, unknown>;
}

export interface SsmStandIn {
  endpoint: string;
  calls: SsmCall[];
  /** Parameter values by name (decrypted), for assertions. */
  values: Map<string, { value: string; type: string; version: number }>;
  stop(): Promise<void>;
}

const recorded = (name: string): { __type: string; message: string } =>
  JSON.parse(readFileSync(new URL(`../fixtures/aws/${name}`, import.meta.url), 'utf8')) as { __type: string; message: string };

const NAME = /^[a-zA-Z0-9_.\-/]{1,2048}$/;

class SsmError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

export async function startSsmStandIn(): Promise<SsmStandIn> {
  const calls: SsmCall[] = [];
  const values: SsmStandIn['values'] = new Map();

  const checkName = (name: unknown): string => {
    if (typeof name !== 'string' || !NAME.test(name)) throw new SsmError('ValidationException', `Parameter name: ${String(name)} is not valid.`);
    if (/^\/?(aws|ssm)/i.test(name)) throw new SsmError('ValidationException', 'Parameter name: can\'t be prefixed with "aws" or "ssm" (case-insensitive).');
    if (name.includes('/') && !name.startsWith('/')) throw new SsmError('ValidationException', 'Parameter name must be a fully qualified name.');
    if (name.split('/').filter(Boolean).length > 15) throw new SsmError('HierarchyLevelLimitExceededException', 'A hierarchy can have a maximum of 15 levels.');
    return name;
  };
  const notFound = (name: string): SsmError => {
    const shape = recorded('ssm-GetParameter-ParameterNotFound.json');
    return new SsmError(shape.__type, `Parameter ${name} not found.`);
  };

  const actions: Record<string, (input: Record<string, unknown>) => unknown> = {
    PutParameter(input) {
      const name = checkName(input.Name);
      const type = input.Type ?? values.get(name)?.type;
      if (type !== 'String' && type !== 'StringList' && type !== 'SecureString') throw new SsmError('ValidationException', 'A parameter type is required when you create a parameter.');
      if (typeof input.Value !== 'string' || input.Value === '') throw new SsmError('ValidationException', 'Parameter value must not be empty.');
      const tier = input.Tier ?? 'Standard';
      if (tier !== 'Standard' && tier !== 'Advanced' && tier !== 'Intelligent-Tiering') {
        throw new SsmError('ValidationException', `1 validation error detected: Value '${String(tier)}' at 'tier' failed to satisfy constraint: Member must satisfy enum value set: [Standard, Advanced, Intelligent-Tiering]`);
      }
      if (tier !== 'Advanced' && input.Value.length > 4096) {
        const shape = recorded('ssm-PutParameter-StandardTierValueTooLong.json');
        throw new SsmError(shape.__type, shape.message);
      }
      const existing = values.get(name);
      if (existing && input.Overwrite !== true) {
        const shape = recorded('ssm-PutParameter-ParameterAlreadyExists.json');
        throw new SsmError(shape.__type, shape.message);
      }
      const version = (existing?.version ?? 0) + 1;
      values.set(name, { value: input.Value, type, version });
      return { Version: version, Tier: 'Standard' };
    },
    GetParameter(input) {
      const name = checkName(input.Name);
      const p = values.get(name);
      if (!p) throw notFound(name);
      const value = p.type === 'SecureString' && input.WithDecryption !== true ? Buffer.from(`kms-ciphertext:${name}:${p.version}`).toString('base64') : p.value;
      return { Parameter: { Name: name, Type: p.type, Value: value, Version: p.version, DataType: 'text' } };
    },
    DeleteParameter(input) {
      const name = checkName(input.Name);
      if (!values.delete(name)) throw notFound(name);
      return {};
    },
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const action = target.startsWith('AmazonSSM.') ? target.slice('AmazonSSM.'.length) : '';
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify(body));
      };
      let input: Record<string, unknown>;
      try {
        input = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
      } catch {
        send(400, { __type: 'SerializationException', message: 'body is not JSON' });
        return;
      }
      const handler = actions[action];
      if (!handler) {
        send(400, { __type: 'UnknownOperationException', message: `the SSM stand-in does not implement ${target || '(no X-Amz-Target)'}` });
        return;
      }
      calls.push({ action, input });
      try {
        send(200, handler(input));
      } catch (err) {
        if (err instanceof SsmError) send(400, { __type: err.type, message: err.message });
        else send(500, { __type: 'InternalServerError', message: (err as Error).message });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    values,
    stop: () => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))),
  };
}
