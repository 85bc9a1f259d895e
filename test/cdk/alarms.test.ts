// Alarms go somewhere (lib/alarm-notifications.ts): every CloudWatch alarm of the stack
// notifies one SNS topic, which takes TLS only and, with `alarmEmail`, mails an address.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, settingsFromContext } from '../../lib/config.js';
import { asList, fixtureProps, synthSlipway, type Synthesized } from './synth.js';

type Resource = Synthesized['json']['Resources'][string];

describe('alarm notifications in the stack', () => {
  let withEmail: Synthesized;
  let without: Synthesized;
  beforeAll(() => {
    withEmail = synthSlipway(fixtureProps({ alarmEmail: 'ops@example.com' }), { bundle: false, validate: false });
    without = synthSlipway(fixtureProps(), { bundle: false, validate: false, nag: false });
  }, 300_000);
  afterAll(() => {
    withEmail?.cleanup();
    without?.cleanup();
  });

  const ofType = (s: Synthesized, type: string): [string, Resource][] => Object.entries(s.json.Resources).filter(([, r]) => r.Type === type);
  const topicId = (s: Synthesized) => {
    const topics = ofType(s, 'AWS::SNS::Topic');
    expect(topics).toHaveLength(1);
    return topics[0]![0];
  };

  it('synthesizes with no unacknowledged cdk-nag finding (SNS2 acknowledged with its reason, SNS3 met)', () => {
    expect(withEmail.error).toBeUndefined();
    expect(withEmail.findings).toEqual([]);
  });

  it('sends every alarm of the stack to the topic when it fires and when it recovers', () => {
    const topic = topicId(withEmail);
    const alarms = ofType(withEmail, 'AWS::CloudWatch::Alarm');
    // The dead-letter queues of events and jobs, and the failed task events.
    expect(alarms.length).toBeGreaterThanOrEqual(3);
    for (const [id, alarm] of alarms) {
      const props = alarm.Properties as { AlarmActions?: unknown[]; OKActions?: unknown[] };
      expect({ id, actions: props.AlarmActions }).toEqual({ id, actions: [{ Ref: topic }] });
      expect({ id, actions: props.OKActions }).toEqual({ id, actions: [{ Ref: topic }] });
    }
  });

  it('refuses publishing without TLS and lets only this account\'s CloudWatch alarms publish', () => {
    const topic = topicId(withEmail);
    const policies = ofType(withEmail, 'AWS::SNS::TopicPolicy');
    expect(policies).toHaveLength(1);
    const props = policies[0]![1].Properties as { Topics: unknown[]; PolicyDocument: { Statement: Record<string, any>[] } };
    expect(props.Topics).toEqual([{ Ref: topic }]);
    const statements = props.PolicyDocument.Statement;
    const deny = statements.find((st) => st.Effect === 'Deny')!;
    expect(deny.Condition).toEqual({ Bool: { 'aws:SecureTransport': 'false' } });
    expect(asList(deny.Action)).toContain('sns:Publish');
    const allow = statements.find((st) => st.Sid === 'CloudWatchAlarmsPublish')!;
    expect(allow).toMatchObject({ Effect: 'Allow', Action: 'sns:Publish', Principal: { Service: 'cloudwatch.amazonaws.com' }, Resource: { Ref: topic } });
    expect(allow.Condition.StringEquals).toEqual({ 'aws:SourceAccount': { Ref: 'AWS::AccountId' } });
    expect(JSON.stringify(allow.Condition.ArnLike['aws:SourceArn'])).toContain(':alarm:*');
  });

  it('subscribes the alarmEmail address, and nothing without one', () => {
    const subscriptions = ofType(withEmail, 'AWS::SNS::Subscription').map(([, r]) => r.Properties);
    expect(subscriptions).toEqual([{ Protocol: 'email', Endpoint: 'ops@example.com', TopicArn: { Ref: topicId(withEmail) } }]);
    expect(ofType(without, 'AWS::SNS::Subscription')).toEqual([]);
    // The topic is there all the same: subscribe to it later (console, chat, paging tool).
    expect(topicId(without)).toBeDefined();
  });

  it('prints the topic as an output, and the planner function slipway doctor invokes', () => {
    expect(withEmail.json.Outputs?.AlarmTopicArn).toMatchObject({ Value: { Ref: topicId(withEmail) } });
    const planner = Object.entries(withEmail.json.Resources).find(([id, r]) => r.Type === 'AWS::Lambda::Function' && id.startsWith('SlipwayFunctionsPlanner'))![0];
    expect(withEmail.json.Outputs?.PlannerFunctionName).toMatchObject({ Value: { Ref: planner } });
  });
});

describe('the alarmEmail setting', () => {
  const read = (value: unknown) => settingsFromContext((key) => (key === 'alarmEmail' ? value : undefined));

  it('takes one address, or nothing', () => {
    expect(read('ops@example.com').alarmEmail).toBe('ops@example.com');
    expect(read(undefined).alarmEmail).toBeUndefined();
    expect(read('').alarmEmail).toBeUndefined();
  });

  it.each([['ops'], ['a@b.c,d@e.f'], ['ops @example.com'], [42]])('refuses %j, saying what it expected', (value) => {
    expect(() => read(value)).toThrow(ConfigError);
    expect(() => read(value)).toThrow(/alarmEmail: .* is not one e-mail address such as ops@example.com/);
  });
});
