// The Lambdas' environment, named once (core/config/lambda-env.ts): for each function the
// variables its wiring reads are exactly the ones the synthesized stack sets for it — none
// missing (a handler failing on its first event in AWS), none extra (settings nothing reads).
// The reads are observed, not declared: each function's wiring runs over an environment
// that records every name asked for.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV, FUNCTION_ENV, LAMBDA_NAMES, NOT_SET_BY_STACK, type LambdaName } from '../../core/config/lambda-env.js';
import { apiDepsFromEnv } from '../../lambdas/api/wiring.js';
import { autoscalerDepsFromEnv } from '../../lambdas/autoscaler/handler.js';
import { plannerDepsFromEnv } from '../../lambdas/planner/deps.js';
import type { Env } from '../../lambdas/shared/config.js';
import { taskEventsDepsFromEnv } from '../../lambdas/task-events/handler.js';
import { webhookDepsFromEnv } from '../../lambdas/webhook/handler.js';
import { pricesDepsFromEnv } from '../../lambdas/prices/handler.js';
import { fixtureProps, lambdaFunction, synthSlipway, type Synthesized } from './synth.js';
import { DEFAULT_EC2_CAPACITY } from '../../lib/ec2-capacity.js';

/** Each function's wiring, as its handler runs it on the first event. */
const WIRING: Record<LambdaName, (env: Env) => unknown> = {
  webhook: (env) => webhookDepsFromEnv(env),
  planner: (env) => plannerDepsFromEnv(env),
  autoscaler: (env) => autoscalerDepsFromEnv(env),
  // The default reader: CloudWatch Logs of BUILD_LOG_GROUP, as deployed.
  'task-events': (env) => taskEventsDepsFromEnv(env),
  api: (env) => apiDepsFromEnv(env),
  prices: (env) => pricesDepsFromEnv(env),
};

/** Values for what the template holds as CloudFormation references, in the shape the wiring checks. */
const PLACEHOLDERS: Partial<Record<string, string>> = {
  [ENV.accountId]: '123456789012',
  [ENV.partition]: 'aws',
  [ENV.publicUrl]: 'https://d111111abcdef8.cloudfront.net',
  [ENV.webhookUrl]: 'https://hooks.lambda-url.us-east-1.on.aws/hooks',
  [ENV.ec2Capacity]: '{"amd64":{"capacityProvider":"cp-amd64","autoScalingGroup":"asg-amd64"},"arm64":{"capacityProvider":"cp-arm64","autoScalingGroup":"asg-arm64"}}',
  [ENV.ec2Prepull]: '{"parameters":{"amd64":"/l/amd64","arm64":"/l/arm64"},"registry":"123456789012.dkr.ecr.us-east-1.amazonaws.com","repositoryPrefixes":["slipway-quay"],"agentImages":{"amd64":"a","arm64":"b"}}',
};

function deployedEnv(variables: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(variables).map(([name, value]) => [name, typeof value === 'string' ? value : (PLACEHOLDERS[name] ?? `resolved-${name}`)]));
}

/** The names a function's wiring reads from an environment holding `values`. */
function namesRead(name: LambdaName, values: Record<string, string>): string[] {
  const read = new Set<string>();
  const env = new Proxy(values, {
    get(target, key) {
      if (typeof key === 'string') read.add(key);
      return Reflect.get(target, key);
    },
  });
  WIRING[name](env);
  return [...read].sort();
}

const variants = [
  { name: 'defaults', props: fixtureProps() },
  // The settings that add optional variables: an allow-list, one multi-arch agent image.
  { name: 'allow-list and one agent image', props: fixtureProps({ allowedRepositories: ['acme/api'], agentImage: { uri: '123456789012.dkr.ecr.us-east-1.amazonaws.com/agent:1' } }) },
  // EC2 capacity on (issue 19): the planner and the autoscaler learn where it is.
  { name: 'EC2 capacity', props: fixtureProps({ ec2Capacity: { ...DEFAULT_EC2_CAPACITY, architectures: ['amd64', 'arm64'] } }) },
];

for (const variant of variants) {
  describe(`Lambda environment (${variant.name})`, () => {
    let s: Synthesized;
    beforeAll(() => {
      s = synthSlipway(variant.props, { nag: false, bundle: false, validate: false });
    });
    afterAll(() => s?.cleanup());

    const variablesOf = (name: LambdaName): Record<string, unknown> => lambdaFunction(s.json, name).props.Environment?.Variables ?? {};

    it.each(LAMBDA_NAMES)('%s: its wiring reads every variable the stack sets for it, and the stack sets every one it reads', (name) => {
      const set = Object.keys(variablesOf(name)).sort();
      const read = namesRead(name, deployedEnv(variablesOf(name)));
      // Optional ones are read when present; the stack leaves them out when the settings do.
      const maySkip: readonly string[] = [...NOT_SET_BY_STACK, ...FUNCTION_ENV[name].optional];
      const notSet = read.filter((v) => !set.includes(v) && !maySkip.includes(v));
      const libraries: readonly string[] = FUNCTION_ENV[name].libraries ?? [];
      const unread = set.filter((v) => !read.includes(v) && !libraries.includes(v));
      expect(notSet, `${name} reads ${notSet.join(', ')}, which the stack does not set`).toEqual([]);
      expect(unread, `the stack sets ${unread.join(', ')} on ${name}, which nothing reads`).toEqual([]);
    });

    it.each(LAMBDA_NAMES)('%s: the stack sets what core/config/lambda-env.ts says it always sets, and only names listed there', (name) => {
      const set = Object.keys(variablesOf(name));
      const { always, optional, libraries = [] } = FUNCTION_ENV[name];
      const listed: readonly string[] = [...always, ...optional, ...libraries];
      expect([...always, ...libraries].filter((v) => !set.includes(v)), `${name}: always-set variables missing`).toEqual([]);
      expect(set.filter((v) => !listed.includes(v)), `${name}: variables not listed`).toEqual([]);
    });
  });
}

describe('Lambda environment names', () => {
  it('names each variable once', () => {
    const names = Object.values(ENV);
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
  });
});
