// With EC2 capacity on, an instance joining the build cluster nudges the autoscaler
// (lib/instance-registration-nudge.ts): the stage a warm-pool or new instance was started for
// is placed on it at once, not by the next scheduled pass. Off by default, like the capacity.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_EC2_CAPACITY } from '../../lib/ec2-capacity.js';
import { INSTANCE_NUDGE } from '../../lib/instance-registration-nudge.js';
import { type Synthesized, fixtureProps, synthSlipway } from './synth.js';

const fast = { bundle: false, validate: false, nag: true } as const;
type Rule = { Type: string; Properties: { EventPattern?: Record<string, any>; Targets?: { Arn: unknown; Input?: string; RetryPolicy?: Record<string, unknown> }[] } };

const instanceRules = (s: Synthesized) =>
  (Object.values(s.json.Resources) as Rule[]).filter((r) => r.Type === 'AWS::Events::Rule' && r.Properties.EventPattern?.['detail-type']?.includes('ECS Container Instance State Change'));

describe('an instance joining the cluster nudges the autoscaler', () => {
  let on: Synthesized;
  let off: Synthesized;
  beforeAll(() => {
    on = synthSlipway(fixtureProps({ ec2Capacity: DEFAULT_EC2_CAPACITY }), fast);
    off = synthSlipway(fixtureProps(), { ...fast, nag: false });
  });
  afterAll(() => {
    on?.cleanup();
    off?.cleanup();
  });

  it('with EC2 capacity: a rule on ACTIVE, connected container instances of the build cluster sends the autoscaler a nudge', () => {
    expect(on.error).toBeUndefined();
    expect(on.findings.filter((f) => f.severity === 'error')).toEqual([]);
    const rules = instanceRules(on);
    expect(rules).toHaveLength(1);
    const { EventPattern: pattern, Targets: targets } = rules[0]!.Properties;
    expect(pattern).toMatchObject({ source: ['aws.ecs'], detail: { status: ['ACTIVE'], agentConnected: [true] } });
    // The build cluster's ARN, not any cluster's.
    expect(JSON.stringify(pattern!.detail.clusterArn)).toMatch(/BuildCluster/);
    expect(targets).toHaveLength(1);
    expect(JSON.stringify(targets![0]!.Arn)).toMatch(/Autoscaler/);
    expect(JSON.parse(targets![0]!.Input!)).toEqual(INSTANCE_NUDGE);
    expect(targets![0]!.RetryPolicy).toMatchObject({ MaximumRetryAttempts: 0 });
  });

  it('without EC2 capacity: no such rule', () => {
    expect(instanceRules(off)).toEqual([]);
  });
});
