// Registers a stage's task definition only when its family is new. The family is a hash
// of the structural content (the compiler's job), so "family exists" means "this exact
// definition exists". RegisterTaskDefinition is slow to refill (1/s) and concurrent
// registrations of one family can fail: one registration per family at a time in this
// process, and a retry with jittered back-off on throttling (core/util/retry.ts).

import {
  DescribeTaskDefinitionCommand,
  type ECSClient,
  RegisterTaskDefinitionCommand,
  type RegisterTaskDefinitionCommandInput,
} from '@aws-sdk/client-ecs';
import { classifyAwsError } from '../../core/util/aws-errors.js';
import { withRetry } from '../../core/util/retry.js';

const known = new Map<string, string>();
const inFlight = new Map<string, Promise<string>>();

export interface RegisterOptions {
  executionRoleArn?: string;
  taskRoleArn?: string;
  /** Ceiling of the first retry's back-off in milliseconds (doubles each time, jittered). */
  retryDelayMs?: number;
}

/** The task definition ARN of `definition.family`, registering it if ECS does not know it. */
export function ensureTaskDefinition(ecs: ECSClient, definition: { family: string; [k: string]: unknown }, options: RegisterOptions = {}): Promise<string> {
  const cached = known.get(definition.family);
  if (cached) return Promise.resolve(cached);
  const running = inFlight.get(definition.family);
  if (running) return running;
  const work = describeOrRegister(ecs, definition, options).finally(() => inFlight.delete(definition.family));
  inFlight.set(definition.family, work);
  return work;
}

async function describeOrRegister(ecs: ECSClient, definition: { family: string; [k: string]: unknown }, options: RegisterOptions): Promise<string> {
  const existing = await describe(ecs, definition.family);
  if (existing) {
    known.set(definition.family, existing);
    return existing;
  }
  const input = {
    ...(options.executionRoleArn ? { executionRoleArn: options.executionRoleArn } : {}),
    ...(options.taskRoleArn ? { taskRoleArn: options.taskRoleArn } : {}),
    ...definition,
  } as RegisterTaskDefinitionCommandInput;
  // Throttles, server faults and ECS's "Too many concurrent attempts to create a new revision"
  // are retried (core/util/aws-errors.ts decides); between tries, another registration of
  // the same family may have won.
  const base = options.retryDelayMs ?? 500;
  return withRetry(
    async (attempt) => {
      if (attempt > 1) {
        const now = await describe(ecs, definition.family);
        if (now) {
          known.set(definition.family, now);
          return now;
        }
      }
      const res = await ecs.send(new RegisterTaskDefinitionCommand(input));
      const arn = res.taskDefinition?.taskDefinitionArn;
      if (!arn) throw new Error(`autoscaler: RegisterTaskDefinition of ${definition.family} returned no ARN`);
      known.set(definition.family, arn);
      return arn;
    },
    { attempts: 5, baseMs: base, maxMs: base * 16 },
  );
}

async function describe(ecs: ECSClient, family: string): Promise<string | undefined> {
  try {
    const res = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: family }));
    return res.taskDefinition?.status === 'ACTIVE' || res.taskDefinition?.status === undefined ? res.taskDefinition?.taskDefinitionArn : undefined;
  } catch (err) {
    // ECS answers ClientException "Unable to describe task definition." for an unknown family
    // (a not-found ECS words only in the message). Any other ClientException makes the
    // registration that follows fail with ECS's own words.
    if (classifyAwsError(err).name === 'ClientException') return undefined;
    throw err;
  }
}

/** Tests: forget what this process learnt. */
export function forgetTaskDefinitions(): void {
  known.clear();
}
