// The planner's pull secret store on AWS (adapters/secrets/pull-secret-store.ts), through the
// SDK against the SSM and Secrets Manager stand-ins (test/support): reads as ECS resolves a
// reference (an SSM parameter, decrypted; a secret's JSON key), writes derived secrets tagged,
// idempotently, and never changes a secret of that name without the tag.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SSMClient } from '@aws-sdk/client-ssm';
import { awsPullSecretStore } from '../../adapters/secrets/pull-secret-store.js';
import { DerivedSecretConflict, SecretValueError, derivePullLogins } from '../../core/pipeline/pull-logins.js';
import { cliContext } from '../../cli/commands/compile.js';
import { loadManifest } from '../../core/pipeline/load.js';
import { classifyAwsError } from '../../core/util/aws-errors.js';
import { FIXTURE_OPTIONS } from '../compiler/support.js';
import { startSecretsManagerStandIn, type SecretsManagerStandIn } from '../support/secrets-manager-stand-in.js';
import { startSsmStandIn, type SsmStandIn } from '../support/ssm-stand-in.js';

let ssm: SsmStandIn;
let sm: SecretsManagerStandIn;
beforeAll(async () => {
  [ssm, sm] = await Promise.all([startSsmStandIn(), startSecretsManagerStandIn()]);
});
afterAll(async () => {
  await Promise.all([ssm?.stop(), sm?.stop()]);
});
beforeEach(() => {
  ssm.values.clear();
  sm.secrets.clear();
  sm.calls.length = 0;
});

const config = (endpoint: string) => ({ endpoint, region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, maxAttempts: 1 });
const store = () => awsPullSecretStore(() => new SSMClient(config(ssm.endpoint)), () => new SecretsManagerClient(config(sm.endpoint)));
const ARN = (name: string) => `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${name}`;
const TAG = { Key: 'slipway:derived', Value: 'pull-credentials' };

describe('awsPullSecretStore', () => {
  it('reads a SecureString parameter decrypted, a JSON key of a secret by partial ARN, a whole secret; missing ones are undefined', async () => {
    ssm.values.set('/slipway/acme/app/dockerconfig', { value: '{"auths":{}}', type: 'SecureString', version: 1 });
    sm.secrets.set('/slipway/acme/app/gcr', { value: JSON.stringify({ '.dockerconfigjson': '{"auths":{"ghcr.io":{}}}' }), tags: [], versions: 1 });
    const s = store();
    expect(await s.read('arn:aws:ssm:eu-west-1:123456789012:parameter/slipway/acme/app/dockerconfig')).toBe('{"auths":{}}');
    expect(await s.read(`${ARN('/slipway/acme/app/gcr')}:.dockerconfigjson::`)).toBe('{"auths":{"ghcr.io":{}}}');
    expect(await s.read(ARN('/slipway/acme/app/gcr'))).toContain('.dockerconfigjson');
    expect(await s.read('/slipway/acme/app/missing')).toBeUndefined();
    expect(await s.read(`${ARN('/slipway/acme/app/missing')}:k::`)).toBeUndefined();
    await expect(s.read(`${ARN('/slipway/acme/app/gcr')}:absent-key::`)).rejects.toThrow(SecretValueError);
  });

  it('creates a derived secret tagged, leaves it alone when equal, updates it when not', async () => {
    const s = store();
    const name = '/slipway/acme/app/slipway-pull.gcr.ghcr.io';
    expect(await s.ensure(name, '{"username":"u","password":"one"}')).toBe('created');
    expect(sm.secrets.get(name)).toMatchObject({ value: '{"username":"u","password":"one"}', tags: [TAG], versions: 1 });
    expect(await s.ensure(name, '{"username":"u","password":"one"}')).toBe('unchanged');
    expect(sm.secrets.get(name)!.versions).toBe(1);
    expect(await s.ensure(name, '{"username":"u","password":"two"}')).toBe('updated');
    expect(sm.secrets.get(name)).toMatchObject({ value: '{"username":"u","password":"two"}', versions: 2 });
    expect(sm.calls.map((c) => c.action)).toEqual(['DescribeSecret', 'CreateSecret', 'DescribeSecret', 'GetSecretValue', 'DescribeSecret', 'GetSecretValue', 'PutSecretValue']);
  });

  it('never changes a secret of that name without the tag', async () => {
    const name = '/slipway/acme/app/slipway-pull.gcr.ghcr.io';
    sm.secrets.set(name, { value: 'kept by a person', tags: [{ Key: 'owner', Value: 'ops' }], versions: 1 });
    await expect(store().ensure(name, '{"username":"u","password":"p"}')).rejects.toThrow(DerivedSecretConflict);
    expect(sm.secrets.get(name)!.value).toBe('kept by a person');
    expect(sm.calls.map((c) => c.action)).toEqual(['DescribeSecret']);
  });
});

describe('derivePullLogins over an unreachable store', () => {
  const file = `kind: pipeline
type: docker
name: p
image_pull_secrets: [dockerconfig]
steps:
- name: s
  image: registry.example.com/team/a:1
  commands: [x]
`;
  // Nothing listens on port 9 of this machine (discard): every call is refused, as a network fault is.
  const unreachable = () => awsPullSecretStore(() => new SSMClient(config('http://127.0.0.1:9')), () => new SecretsManagerClient(config('http://127.0.0.1:9')));
  const ctx = cliContext({ repo: 'acme/app', commit: 'a'.repeat(40) });

  it("throws, so that the planner asks again with the message; on the last attempt the pull secret's error says why", async () => {
    const manifest = loadManifest('.drone.yml', file);
    await expect(derivePullLogins(manifest, ctx, FIXTURE_OPTIONS, unreachable())).rejects.toThrow(/ECONNREFUSED|connect/);
    const last = await derivePullLogins(manifest, ctx, FIXTURE_OPTIONS, unreachable(), (error) => classifyAwsError(error).message);
    expect(last.logins('dockerconfig')).toEqual({ kind: 'invalid', message: expect.stringMatching(/^Slipway could not read it \(.*(ECONNREFUSED|connect)/) });
    expect(last.written).toEqual([]);
  });
});
