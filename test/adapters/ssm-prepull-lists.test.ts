// The prepull lists' writer against the SSM stand-in (test/support/ssm-stand-in.ts: the real
// SSMClient, SSM's name rules and its 4096-character standard tier).
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SsmPrepullLists } from '../../adapters/ssm/prepull-lists.js';
import { startSsmStandIn, type SsmStandIn } from '../support/ssm-stand-in.js';

const AMD = '/slipway-prepull/Slipway/amd64';
const ARM = '/slipway-prepull/Slipway/arm64';
const image = (n: string) => `123456789012.dkr.ecr.eu-west-1.amazonaws.com/slipway-docker-hub/library/${n}`;

let standIn: SsmStandIn;
let ssm: SSMClient;

beforeAll(async () => {
  standIn = await startSsmStandIn();
  ssm = new SSMClient({ endpoint: standIn.endpoint, region: 'eu-west-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
});
afterAll(async () => {
  ssm.destroy();
  await standIn.stop();
});

describe('prepull lists in SSM parameters', () => {
  it('writes one reference a line, which is what the boot script reads back', async () => {
    const lists = new SsmPrepullLists(ssm, { amd64: AMD });
    expect(await lists.write('amd64', [image('node:20'), image('postgres:16')])).toBe('written');
    const read = await ssm.send(new GetParameterCommand({ Name: AMD }));
    expect(read.Parameter?.Value).toBe(`${image('node:20')}\n${image('postgres:16')}`);
    expect(standIn.values.get(AMD)?.type).toBe('String');
  });

  it('replaces a list the stack created, and writes nothing when the list is the same', async () => {
    standIn.values.set(ARM, { value: 'agent-from-the-stack', type: 'String', version: 1 });
    // A cold Lambda: it reads the current value before deciding.
    const lists = new SsmPrepullLists(ssm, { arm64: ARM });
    expect(await lists.write('arm64', ['agent-from-the-stack'])).toBe('unchanged');
    expect(await lists.write('arm64', [image('golang:1.22')])).toBe('written');
    const puts = () => standIn.calls.filter((c) => c.action === 'PutParameter' && c.input.Name === ARM).length;
    const before = puts();
    expect(await lists.write('arm64', [image('golang:1.22')])).toBe('unchanged');
    expect(puts()).toBe(before);
    expect(standIn.values.get(ARM)).toMatchObject({ value: image('golang:1.22'), version: 2 });
  });

  it('says which architecture has no list, and never writes an empty one', async () => {
    const lists = new SsmPrepullLists(ssm, { amd64: AMD });
    await expect(lists.write('arm64', [image('x:1')])).rejects.toThrow(/no parameter for arm64 \(the deployment has amd64\)/);
    await expect(lists.write('amd64', [])).rejects.toThrow(/refusing to write an empty list/);
  });

  it('fails as SSM does when a list outgrows a standard parameter (the selection keeps it within 4096)', async () => {
    const lists = new SsmPrepullLists(ssm, { amd64: '/slipway-prepull/Other/amd64' });
    await expect(lists.write('amd64', Array.from({ length: 60 }, (_, i) => image(`very-long-image-name-number-${i}:tag`)))).rejects.toThrow(/4096|Standard/i);
  });
});
