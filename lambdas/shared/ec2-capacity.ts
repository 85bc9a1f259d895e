// The deployment's EC2 capacity as the stack describes it to the planner (capacity providers)
// and the autoscaler (Auto Scaling groups): ENV.ec2Capacity, read in one place.

import { ENV } from '../../core/config/lambda-env.js';
import type { Arch } from '../../core/pipeline/types.js';
import { jsonEnv, type Env } from './config.js';

/** One architecture's EC2 capacity as the stack describes it (lib/ec2-capacity.ts, ENV.ec2Capacity). */
export interface Ec2CapacityEntry {
  capacityProvider: string;
  autoScalingGroup: string;
  /** The group launches Spot instances (and may fall back to on-demand). */
  spot?: boolean;
}

/** ENV.ec2Capacity: `{"amd64": {"capacityProvider", "autoScalingGroup"}, …}`; undefined when unset. */
export function ec2CapacityFromEnv(env: Env): Partial<Record<Arch, Ec2CapacityEntry>> | undefined {
  const expected = 'expected {"amd64": {"capacityProvider": …, "autoScalingGroup": …}, "arm64": …}';
  const value = jsonEnv(env, ENV.ec2Capacity, expected);
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`config: ${ENV.ec2Capacity} is not an object; ${expected}`);
  const out: Partial<Record<Arch, Ec2CapacityEntry>> = {};
  for (const [arch, entry] of Object.entries(value as Record<string, unknown>)) {
    const e = entry as Partial<Ec2CapacityEntry> | null;
    if ((arch !== 'amd64' && arch !== 'arm64') || !e || typeof e.capacityProvider !== 'string' || typeof e.autoScalingGroup !== 'string') {
      throw new Error(`config: ${ENV.ec2Capacity}: the entry ${JSON.stringify(arch)} is not an architecture (amd64, arm64) with capacityProvider and autoScalingGroup; ${expected}`);
    }
    out[arch] = { capacityProvider: e.capacityProvider, autoScalingGroup: e.autoScalingGroup, ...(e.spot === true ? { spot: true } : {}) };
  }
  return out;
}
