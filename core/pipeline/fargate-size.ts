// Fargate accepts only certain CPU/memory pairs: a request is raised to the smallest
// valid pair that covers it.

export interface FargateSize {
  /** CPU units, as ECS wants them in a task definition (a string). */
  cpu: string;
  /** MiB, as a string. */
  memory: string;
}

interface Tier {
  cpu: number;
  /** Valid memory sizes in MiB, ascending. */
  memory: number[];
}

const range = (fromGiB: number, toGiB: number, stepGiB: number): number[] =>
  Array.from({ length: (toGiB - fromGiB) / stepGiB + 1 }, (_, i) => (fromGiB + i * stepGiB) * 1024);

const TIERS: readonly Tier[] = [
  { cpu: 256, memory: [512, 1024, 2048] },
  { cpu: 512, memory: range(1, 4, 1) },
  { cpu: 1024, memory: range(2, 8, 1) },
  { cpu: 2048, memory: range(4, 16, 1) },
  { cpu: 4096, memory: range(8, 30, 1) },
  { cpu: 8192, memory: range(16, 60, 4) },
  { cpu: 16384, memory: range(32, 120, 8) },
];

export const MAX_CPU = 16384;
export const MAX_MEMORY = 122880;

/**
 * The smallest valid pair with at least `cpu` units and `memory` MiB, or a message
 * saying why none exists.
 */
export function fargateSize(cpu: number, memory: number): FargateSize | { error: string } {
  for (const tier of TIERS) {
    if (tier.cpu < cpu) continue;
    const fit = tier.memory.find((m) => m >= memory);
    if (fit !== undefined) return { cpu: String(tier.cpu), memory: String(fit) };
  }
  return {
    error: `no Fargate size has ${cpu} CPU units and ${memory} MiB: the largest is ${MAX_CPU} units (16 vCPU) with ${MAX_MEMORY} MiB (120 GiB)`,
  };
}
