// The SOCI index store (core/images/soci.ts, SociIndexStore) on the build table: one item per
// source digest (keys.ts, access pattern 14). Every write carries a condition, so that EventBridge's
// duplicate events, SQS redeliveries and reports arriving late or twice change nothing they
// should not: a claim is taken once (or again once stale or failed, up to SOCI_MAX_ATTEMPTS), a
// skipped or converted image is never claimed again, and only a claimed record takes a report.

import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { SOCI_CLAIM_STALE_MS, SOCI_COPY_LIFETIME_MS, SOCI_MAX_ATTEMPTS, SOCI_NAMED_LIFETIME_MS, type IndexImageJob, type SociIndexStore, type SociNaming, type SociRecord } from '../../core/images/soci.js';
import { isConditionalCheckFailure } from '../../core/util/aws-errors.js';
import { batchGet, batchWrite } from './batch.js';
import { SOCI_BUDGET_SK, SOCI_NAMED_SK, SOCI_SK, TTL_ATTRIBUTE, sociBudgetPk, sociNamedPk, sociPk } from './keys.js';

const ITEM_TYPE = 'soci';
/** A day's conversion budget outlives its day by one, whatever the clocks' skew. */
const BUDGET_TTL_SECONDS = 2 * 24 * 3600;

export class DynamoSociIndexStore implements SociIndexStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async get(sourceDigest: string): Promise<SociRecord | undefined> {
    const res = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: key(sourceDigest), ConsistentRead: true }));
    return res.Item ? decode(res.Item) : undefined;
  }

  async getMany(sourceDigests: readonly string[]): Promise<Map<string, SociRecord>> {
    const items = await batchGet(this.doc, this.tableName, [...new Set(sourceDigests)].map(key));
    const out = new Map<string, SociRecord>();
    for (const item of items) out.set(String(item.PK).slice('SOCI#'.length), decode(item));
    return out;
  }

  async claim(job: Pick<IndexImageJob, 'repository' | 'digest'>, now: number): Promise<boolean> {
    return conditional(
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key(job.digest),
          UpdateExpression: 'SET #type = :type, #state = :converting, repository = :repository, claimedAt = :now, attempts = if_not_exists(attempts, :zero) + :one REMOVE taskArn, reason',
          // New; a copy at its expiry (SOCI_COPY_LIFETIME_MS); or converting and stale (its task lost
          // with its events), or failed — each while attempts remain.
          ConditionExpression:
            'attribute_not_exists(PK) OR (#state = :converted AND convertedAt <= :expired) OR ((#state = :failed OR (#state = :converting AND claimedAt <= :stale)) AND attempts < :max)',
          ExpressionAttributeNames: { '#type': 'type', '#state': 'state' },
          ExpressionAttributeValues: {
            ':type': ITEM_TYPE,
            ':converting': 'converting',
            ':failed': 'failed',
            ':converted': 'converted',
            ':expired': now - SOCI_COPY_LIFETIME_MS,
            ':repository': job.repository,
            ':now': now,
            ':stale': now - SOCI_CLAIM_STALE_MS,
            ':zero': 0,
            ':one': 1,
            ':max': SOCI_MAX_ATTEMPTS,
          },
        }),
      ),
    );
  }

  async started(sourceDigest: string, taskArn: string): Promise<void> {
    await conditional(
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key(sourceDigest),
          UpdateExpression: 'SET taskArn = :task',
          ConditionExpression: '#state = :converting',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ':task': taskArn, ':converting': 'converting' },
        }),
      ),
    );
  }

  async skip(job: Pick<IndexImageJob, 'repository' | 'digest'>, reason: string): Promise<void> {
    // Never over a conversion that is done or under way.
    await conditional(
      this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...key(job.digest), type: ITEM_TYPE, state: 'skipped', repository: job.repository, reason: reason.slice(0, 400) },
          ConditionExpression: 'attribute_not_exists(PK) OR #state = :failed',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ':failed': 'failed' },
        }),
      ),
    );
  }

  async converted(sourceDigest: string, convertedDigest: string, now: number, taskArn: string): Promise<void> {
    await conditional(
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key(sourceDigest),
          // Attempts start again: the next conversion (after the copy's expiry) has its own.
          UpdateExpression: 'SET #state = :converted, convertedDigest = :digest, convertedAt = :now, attempts = :zero REMOVE reason',
          // The claim of the task that reports, checked in the write: a read before it may be stale.
          ConditionExpression: '#state = :converting AND taskArn = :task',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ':converted': 'converted', ':converting': 'converting', ':digest': convertedDigest, ':now': now, ':zero': 0, ':task': taskArn },
        }),
      ),
    );
  }

  async failed(sourceDigest: string, reason: string, now: number, taskArn?: string): Promise<void> {
    await conditional(
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key(sourceDigest),
          UpdateExpression: 'SET #state = :failed, reason = :reason, failedAt = :now',
          ConditionExpression: taskArn === undefined ? '#state = :converting' : '#state = :converting AND taskArn = :task',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ':failed': 'failed', ':converting': 'converting', ':reason': reason.slice(0, 400), ':now': now, ...(taskArn === undefined ? {} : { ':task': taskArn }) },
        }),
      ),
    );
  }
  async released(sourceDigest: string, reason: string, now: number): Promise<void> {
    await conditional(
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key(sourceDigest),
          // Only a claim without a task: one whose converter runs is that task's to end.
          UpdateExpression: 'SET #state = :failed, reason = :reason, failedAt = :now, attempts = attempts - :one',
          ConditionExpression: '#state = :converting AND attribute_not_exists(taskArn) AND attempts >= :one',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ':failed': 'failed', ':converting': 'converting', ':reason': reason.slice(0, 400), ':now': now, ':one': 1 },
        }),
      ),
    );
  }

  async kept(sourceDigest: string, claimedAt: number, taskArn: string, now: number): Promise<boolean> {
    return conditional(
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key(sourceDigest),
          UpdateExpression: 'SET claimedAt = :now, taskArn = :task',
          // The claim as it was read: one taken over or reported on meanwhile is left as it is.
          ConditionExpression: '#state = :converting AND claimedAt = :was',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ':converting': 'converting', ':was': claimedAt, ':task': taskArn, ':now': now },
        }),
      ),
    );
  }

  async nameImages(keys: readonly string[], repo: string, now: number): Promise<void> {
    const expiresAt = Math.ceil((now + SOCI_NAMED_LIFETIME_MS) / 1000);
    await batchWrite(
      this.doc,
      this.tableName,
      [...new Set(keys)].map((k) => ({ PutRequest: { Item: { PK: sociNamedPk(k), SK: SOCI_NAMED_SK, type: 'soci-named', repo, namedAt: now, [TTL_ATTRIBUTE]: expiresAt } } })),
    );
  }

  async namings(keys: readonly string[]): Promise<SociNaming[]> {
    const items = await batchGet(this.doc, this.tableName, [...new Set(keys)].map((k) => ({ PK: sociNamedPk(k), SK: SOCI_NAMED_SK })));
    return items.flatMap((item) => (typeof item.repo === 'string' && typeof item.namedAt === 'number' ? [{ repo: item.repo, namedAt: item.namedAt }] : []));
  }

  async chargeConversion(repo: string, day: string, limit: number): Promise<boolean> {
    return conditional(
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { PK: sociBudgetPk(repo, day), SK: SOCI_BUDGET_SK },
          UpdateExpression: 'SET #type = :type, #ttl = if_not_exists(#ttl, :ttl) ADD conversions :one',
          ConditionExpression: 'attribute_not_exists(conversions) OR conversions < :limit',
          ExpressionAttributeNames: { '#type': 'type', '#ttl': TTL_ATTRIBUTE },
          ExpressionAttributeValues: { ':type': 'soci-budget', ':ttl': Math.ceil(Date.parse(`${day}T00:00:00Z`) / 1000) + BUDGET_TTL_SECONDS, ':one': 1, ':limit': limit },
        }),
      ),
    );
  }
}

function key(sourceDigest: string): { PK: string; SK: string } {
  return { PK: sociPk(sourceDigest), SK: SOCI_SK };
}

/** True when the write happened; false when its condition said it should not. Other errors throw. */
async function conditional(write: Promise<unknown>): Promise<boolean> {
  try {
    await write;
    return true;
  } catch (err) {
    if (isConditionalCheckFailure(err)) return false;
    throw err;
  }
}

/** A malformed item is an error naming it, not a record. */
function decode(item: Record<string, unknown>): SociRecord {
  const where = `soci store: item ${String(item.PK)}`;
  const text = (field: string): string => {
    const v = item[field];
    if (typeof v !== 'string') throw new Error(`${where}: \`${field}\` should be a string`);
    return v;
  };
  const number = (field: string): number => {
    const v = item[field];
    if (typeof v !== 'number') throw new Error(`${where}: \`${field}\` should be a number`);
    return v;
  };
  const repository = text('repository');
  switch (item.state) {
    case 'converting':
      return { state: 'converting', repository, claimedAt: number('claimedAt'), attempts: number('attempts'), ...(typeof item.taskArn === 'string' ? { taskArn: item.taskArn } : {}) };
    case 'converted':
      return { state: 'converted', repository, convertedDigest: text('convertedDigest'), convertedAt: number('convertedAt') };
    case 'skipped':
      return { state: 'skipped', repository, reason: text('reason') };
    case 'failed':
      return { state: 'failed', repository, reason: text('reason'), claimedAt: number('claimedAt'), attempts: number('attempts') };
    default:
      throw new Error(`${where}: unknown state ${JSON.stringify(item.state)}`);
  }
}
