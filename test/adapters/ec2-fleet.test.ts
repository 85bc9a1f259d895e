// The EC2 fleet adapter's reading of an Auto Scaling instance and its container instance
// (adapters/ec2/fleet.ts, fleetState): what the fleet decision (core/scaling/ec2-fleet.ts) sees.
import { describe, expect, it } from 'vitest';
import { fleetState } from '../../adapters/ec2/fleet.js';

const registered = (active: boolean) => ({ arn: 'arn:ci', active, tasks: 0, spent: false });

describe('fleetState', () => {
  it.each([
    ['Pending', undefined, 'booting'],
    ['Pending:Wait', undefined, 'booting'],
    ['InService', undefined, 'booting'], // running, its ECS agent not registered yet
    ['InService', registered(true), 'ready'],
    ['InService', registered(false), 'leaving'], // draining or its agent disconnected
    ['Warmed:Stopped', undefined, 'warm'],
    ['Terminating', registered(true), 'leaving'],
    ['Terminating:Wait', undefined, 'leaving'],
  ] as const)('%s, registered %j → %s', (lifecycle, known, state) => {
    expect(fleetState(lifecycle, known)).toBe(state);
  });
});
