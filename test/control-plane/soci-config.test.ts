// SOCI_INDEXES as the planner and the autoscaler read it (lambdas/planner/deps.ts,
// lambdas/autoscaler/config.ts): off unless set; the planner looks copies up only for a
// deployment whose images go through the cache; a malformed value is refused by name.
import { describe, expect, it } from 'vitest';
import { plannerDepsFromEnv } from '../../lambdas/planner/deps.js';
import { sociConverterFromEnv } from '../../lambdas/autoscaler/config.js';

const BASE = { TABLE_NAME: 't', JOBS_QUEUE_URL: 'https://sqs.example/q', AWS_REGION: 'eu-west-1', ACCOUNT_ID: '123456789012', PARTITION: 'aws' };
const SOCI = JSON.stringify({ taskDefinition: 'slipway-soci-converter', registry: '123456789012.dkr.ecr.eu-west-1.amazonaws.com', prefixes: ['slipway-docker-hub'] });
const CACHE = JSON.stringify({ 'docker.io': 'slipway-docker-hub' });

describe('SOCI_INDEXES', () => {
  it('gives the planner its copy lookup only with the cache, and never unset', () => {
    expect(plannerDepsFromEnv({ ...BASE, PULL_THROUGH_CACHE: CACHE, SOCI_INDEXES: SOCI }).sociImages).toBeTypeOf('function');
    expect(plannerDepsFromEnv({ ...BASE, PULL_THROUGH_CACHE: CACHE }).sociImages).toBeUndefined();
    expect(plannerDepsFromEnv({ ...BASE, SOCI_INDEXES: SOCI }).sociImages).toBeUndefined();
  });

  it('gives the autoscaler the converter, or refuses a value that does not say it', () => {
    expect(sociConverterFromEnv({})).toBeUndefined();
    expect(sociConverterFromEnv({ SOCI_INDEXES: SOCI })).toEqual({ taskDefinition: 'slipway-soci-converter', registry: '123456789012.dkr.ecr.eu-west-1.amazonaws.com', prefixes: ['slipway-docker-hub'] });
    expect(() => sociConverterFromEnv({ SOCI_INDEXES: '{"taskDefinition": 1}' })).toThrow(/config: SOCI_INDEXES .*expected \{"taskDefinition"/);
    expect(() => sociConverterFromEnv({ SOCI_INDEXES: 'on' })).toThrow(/SOCI_INDEXES is not JSON/);
  });
});
