// A build's cost in the CLI: `slipway build N` prints it line by line under the stages, with
// what was estimated; `slipway builds` shows the total (test/cli/api-commands.test.ts).
import { describe, expect, it } from 'vitest';
import { formatBuild } from '../../cli/commands/build.js';
import { costCell } from '../../cli/cost.js';
import type { BuildDetail } from '../../core/builds/types.js';
import { buildCost } from '../../core/cost/build-cost.js';
import { DEFAULT_PRICES } from '../../core/cost/price-table.js';

const cost = buildCost(
  {
    tasks: [
      {
        taskArn: 'arn:aws:ecs:eu-west-1:1:task/slipway/abc', cpu: 2048, memory: 4096, storageGiB: 50, architecture: 'ARM64', capacity: 'FARGATE_SPOT',
        billedFrom: 0, billedTo: 15 * 60_000, publicIpv4: true, containers: 4, events: 7,
      },
    ],
    stages: 1,
    steps: 3,
  },
  { region: 'eu-west-1', prices: DEFAULT_PRICES.regions['eu-west-1']!, asOf: DEFAULT_PRICES.asOf, source: 'defaults+price-list' },
);

const build: BuildDetail = {
  id: 'acme/app#4', repo: 'acme/app', number: 4, status: 'success', event: 'push', action: '', ref: 'refs/heads/main', branch: 'main',
  commit: 'a'.repeat(40), message: 'change', author: 'octocat', link: '', deliveryId: 'd', fork: false, createdAt: 0, startedAt: 0, finishedAt: 900_000,
  stages: [{ buildId: 'acme/app#4', repo: 'acme/app', buildNumber: 4, attempts: 1, dependsOn: [], number: 1, name: 'test', status: 'success', steps: [] }],
  cost,
};

describe('slipway build: the cost', () => {
  it('prints the total with its Region and prices, each priced line, and what is estimated', () => {
    const text = formatBuild(build, 900_000);
    const lines = text.split('\n');
    const head = lines.findIndex((l) => l.startsWith('cost: '));
    expect(lines[head]).toBe(`cost: ${costCell(cost)} in eu-west-1 (prices of ${DEFAULT_PRICES.asOf}, defaults+price-list)`);
    const arm = DEFAULT_PRICES.regions['eu-west-1']!.fargate.ARM64.spot;
    expect(text).toMatch(new RegExp(`Fargate vCPU \\(ARM64, Spot\\)\\s+0\\.5 vCPU-hours\\s+× \\$${arm.vcpuHour}`));
    expect(text).toMatch(/Fargate ephemeral storage over 20 GB\s+7\.5 GB-hours/);
    expect(text).toMatch(/Public IPv4 address\s+0\.25 address-hours\s+× \$0\.005\s+\$0\.0013/);
    expect(text).toMatch(/Lambda requests \*/);
    expect(text).toContain('  * estimated: logs: 4 container(s) × 64 KiB assumed');
  });

  it('prints nothing about cost for a build without one', () => {
    const { cost: _cost, ...unpriced } = build;
    expect(formatBuild(unpriced, 0)).not.toContain('cost:');
    expect(costCell(undefined)).toBe('-');
  });
});
