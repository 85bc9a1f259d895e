// The keepWarm option (lib/functions/keep-warm.ts): off by default (it invokes functions while
// nothing is built); on, one scheduled rule pings the webhook and the planner with the event
// their handlers answer without work.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEEP_WARM_EVENT, KEEP_WARM_RATE_MINUTES } from '../../core/config/keep-warm.js';
import { settingsFromContext } from '../../lib/config.js';
import { type Synthesized, fixtureProps, logicalIds, synthSlipway } from './synth.js';

type Target = { Arn: { 'Fn::GetAtt': string[] }; Input?: string; RetryPolicy?: { MaximumRetryAttempts?: number } };
const keepWarmRules = (s: Synthesized) =>
  Object.values(s.json.Resources).filter(
    (r) => r.Type === 'AWS::Events::Rule' && ((r.Properties?.Targets as Target[] | undefined) ?? []).some((t) => t.Input === JSON.stringify(KEEP_WARM_EVENT)),
  );

describe('keepWarm', () => {
  let off: Synthesized;
  let on: Synthesized;
  beforeAll(() => {
    off = synthSlipway(fixtureProps(), { bundle: false, validate: false, nag: false });
    on = synthSlipway(fixtureProps({ keepWarm: true }), { bundle: false, validate: false });
  });
  afterAll(() => {
    off?.cleanup();
    on?.cleanup();
  });

  it('is read from context, off by default', () => {
    expect(settingsFromContext(() => undefined).keepWarm).toBe(false);
    expect(settingsFromContext((key) => (key === 'keepWarm' ? 'true' : undefined)).keepWarm).toBe(true);
  });

  it('off: nothing is invoked while idle but the autoscaler\'s own pass', () => {
    expect(keepWarmRules(off)).toEqual([]);
  });

  it(`on: one rule pings the webhook and the planner every ${KEEP_WARM_RATE_MINUTES} minutes, without retries; cdk-nag passes`, () => {
    const rules = keepWarmRules(on);
    expect(rules).toHaveLength(1);
    expect(rules[0]!.Properties?.ScheduleExpression).toBe(`rate(${KEEP_WARM_RATE_MINUTES} minutes)`);
    const targets = rules[0]!.Properties?.Targets as Target[];
    const fn = (prefix: string) => logicalIds(on.json, 'AWS::Lambda::Function', prefix)[0]!;
    expect(targets.map((t) => t.Arn['Fn::GetAtt'][0]).sort()).toEqual([fn('SlipwayFunctionsPlanner'), fn('SlipwayFunctionsWebhook')].sort());
    expect(targets.every((t) => t.RetryPolicy?.MaximumRetryAttempts === 0)).toBe(true);
    expect(on.error?.message).toBeUndefined();
    expect(on.findings.filter((f) => f.severity === 'error')).toEqual([]);
  });
});
