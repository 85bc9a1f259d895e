// The PrepullLists port (core/scaling/common-images.ts) on SSM Parameter Store: one String
// parameter per architecture (lib/ec2-capacity.ts creates them), one image reference a line,
// which the instances read at boot with their own role (lib/ec2-prepull.sh).
//
// Why SSM: the instance role gets ssm:GetParameter on exactly these parameters and nothing
// else of the account's data; a standard parameter costs nothing, holds 4096 characters (the
// list's bound) and versions every write. A list is written only when it changed: the value
// last written (or read) is kept between passes of a warm Lambda, and a cold one reads it
// before writing, so a scale-out that changes nothing costs a GetParameter at most.

import { GetParameterCommand, PutParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { prepullListText, type PrepullLists } from '../../core/scaling/common-images.js';
import type { Arch } from '../../core/pipeline/types.js';
import { isNotFound } from '../../core/util/aws-errors.js';

export class SsmPrepullLists implements PrepullLists {
  private readonly known = new Map<Arch, string>();

  constructor(
    private readonly ssm: SSMClient,
    /** Each architecture's parameter name. */
    private readonly names: Partial<Record<Arch, string>>,
  ) {}

  async write(arch: Arch, images: readonly string[]): Promise<'written' | 'unchanged'> {
    const name = this.names[arch];
    if (!name) throw new Error(`prepull lists: no parameter for ${arch} (the deployment has ${Object.keys(this.names).join(', ') || 'none'}); deploy the stack with that architecture in ec2Capacity.architectures`);
    const value = prepullListText(images);
    if (value === '') throw new Error(`prepull lists: refusing to write an empty list to ${name}: the agent image is always on it`);
    if (!this.known.has(arch)) {
      const current = await this.current(name);
      if (current !== undefined) this.known.set(arch, current);
    }
    if (this.known.get(arch) === value) return 'unchanged';
    await this.ssm.send(new PutParameterCommand({ Name: name, Value: value, Type: 'String', Tier: 'Standard', Overwrite: true }));
    this.known.set(arch, value);
    return 'written';
  }

  /** The parameter's value; undefined when it does not exist yet (the write creates it). */
  private async current(name: string): Promise<string | undefined> {
    try {
      return (await this.ssm.send(new GetParameterCommand({ Name: name }))).Parameter?.Value;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }
}
