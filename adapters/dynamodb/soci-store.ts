// The SOCI index store (core/images/soci.ts, SociIndexStore) on the build table: one item per
// source digest (keys.ts, access pattern 14). Every write carries a condition, so that EventBridge's
// duplicate events, SQS redeliveries and reports arriving late or twice change nothing they
// should not: a claim is taken once (or again once stale or failed, up to SOCI_MAX_ATTEMPTS), a
// skipped or converted image is never claimed again, and only a claimed record takes a report.
// A claim and its unit of the repository's daily budget are one transaction, and so are a
// release and its refund: a unit is spent only by a claim that goes on to convert.

import { randomUUID } from 'node:crypto';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, TransactWriteCommand, type TransactWriteCommandInput, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { SOCI_CLAIM_STALE_MS, SOCI_COPY_LIFETIME_MS, SOCI_MAX_ATTEMPTS, SOCI_NAMED_LIFETIME_MS, type ConversionCharge, type ConversionCharged, type IndexImageJob, type SociClaim, type SociIndexStore, type SociNaming, type SociRecord } from '../../core/images/soci.js';
import { isConditionalCheckFailure, transactionCancellationCodes } from '../../core/util/aws-errors.js';
import { withRetry } from '../../core/util/retry.js';
import { batchGet, batchWrite } from './batch.js';
import { SOCI_BUDGET_SK, SOCI_NAMED_SK, SOCI_SK, TTL_ATTRIBUTE, sociBudgetPk, sociNamedPk, sociPk } from './keys.js';
import { retryingTransactionConflicts } from './records.js';

const ITEM_TYPE = 'soci';
const BUDGET_ITEM_TYPE = 'soci-budget';
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

  async claim(job: Pick<IndexImageJob, 'repository' | 'digest'>, now: number, charge: ConversionCharge): Promise<SociClaim> {
    // One transaction (TransactWriteItems: all or nothing): the claim and its unit of the day's
    // budget. A duplicate or late event that loses the claim is charged nothing, and a spent day
    // leaves no claim behind (API_TransactWriteItems.html, "either all of them succeed, or none").
    const codes = await transact(this.doc, [
      {
        Update: {
          TableName: this.tableName,
          Key: key(job.digest),
          UpdateExpression:
            'SET #type = :type, #state = :converting, repository = :repository, claimedAt = :now, attempts = if_not_exists(attempts, :zero) + :one, chargedRepo = :chargedRepo, chargedDay = :chargedDay REMOVE taskArn, reason',
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
            ':chargedRepo': charge.repo,
            ':chargedDay': charge.day,
          },
        },
      },
      {
        Update: {
          TableName: this.tableName,
          Key: budgetKey(charge),
          UpdateExpression: 'SET #type = :type, #ttl = if_not_exists(#ttl, :ttl) ADD conversions :one',
          ConditionExpression: 'attribute_not_exists(conversions) OR conversions < :limit',
          ExpressionAttributeNames: { '#type': 'type', '#ttl': TTL_ATTRIBUTE },
          ExpressionAttributeValues: { ':type': BUDGET_ITEM_TYPE, ':ttl': budgetExpiry(charge.day), ':one': 1, ':limit': charge.limit },
        },
      },
    ]);
    if (codes === undefined) return 'claimed';
    if (codes[0] === CONDITION_FAILED) return 'unclaimable';
    return 'over-budget';
  }

  async started(sourceDigest: string, taskArn: string): Promise<void> {
    await conditional(() =>
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
    await conditional(() =>
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
    await conditional(() =>
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
    await conditional(() =>
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
  async released(sourceDigest: string, reason: string, now: number, charged?: ConversionCharged): Promise<void> {
    const release = {
      TableName: this.tableName,
      Key: key(sourceDigest),
      // Only a claim without a task: one whose converter runs is that task's to end.
      UpdateExpression: 'SET #state = :failed, reason = :reason, failedAt = :now, attempts = attempts - :one REMOVE chargedRepo, chargedDay',
      ConditionExpression: `#state = :converting AND attribute_not_exists(taskArn) AND attempts >= :one${charged ? ' AND chargedRepo = :chargedRepo AND chargedDay = :chargedDay' : ''}`,
      ExpressionAttributeNames: { '#state': 'state' },
      ExpressionAttributeValues: {
        ':failed': 'failed',
        ':converting': 'converting',
        ':reason': reason.slice(0, 400),
        ':now': now,
        ':one': 1,
        ...(charged ? { ':chargedRepo': charged.repo, ':chargedDay': charged.day } : {}),
      },
    };
    // A claim taken before claims carried their charge has none to give back.
    if (!charged) {
      await conditional(() => this.doc.send(new UpdateCommand(release)));
      return;
    }
    // The refund rides on the release's condition: it happens once, with the one release that does.
    await transact(this.doc, [
      { Update: release },
      {
        Update: {
          TableName: this.tableName,
          Key: budgetKey(charged),
          UpdateExpression: 'SET #type = :type, #ttl = if_not_exists(#ttl, :ttl) ADD conversions :minusOne',
          ExpressionAttributeNames: { '#type': 'type', '#ttl': TTL_ATTRIBUTE },
          ExpressionAttributeValues: { ':type': BUDGET_ITEM_TYPE, ':ttl': budgetExpiry(charged.day), ':minusOne': -1 },
        },
      },
    ]);
  }

  async kept(sourceDigest: string, claimedAt: number, taskArn: string, now: number): Promise<boolean> {
    return conditional(() =>
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
}

function key(sourceDigest: string): { PK: string; SK: string } {
  return { PK: sociPk(sourceDigest), SK: SOCI_SK };
}

function budgetKey(charged: ConversionCharged): { PK: string; SK: string } {
  return { PK: sociBudgetPk(charged.repo, charged.day), SK: SOCI_BUDGET_SK };
}

/** Epoch seconds: a day's budget outlives its day by one, whatever the clocks' skew. */
function budgetExpiry(day: string): number {
  return Math.ceil(Date.parse(`${day}T00:00:00Z`) / 1000) + BUDGET_TTL_SECONDS;
}

const CONDITION_FAILED = 'ConditionalCheckFailed';

/**
 * One TransactWriteItems call: undefined when it committed; the cancellation reason codes, one
 * per item in order, when a condition refused it (API_TransactWriteItems.html,
 * CancellationReasons). A conflict with another transaction on the same item (two deliveries of
 * one job, or two images of one repository charging one budget: "TransactionConflict") is tried
 * again after a short back-off, each time with a new ClientRequestToken (a token makes the SDK's
 * own retries of one call idempotent, 10 minutes); other errors throw.
 */
async function transact(doc: DynamoDBDocumentClient, items: NonNullable<TransactWriteCommandInput['TransactItems']>): Promise<string[] | undefined> {
  try {
    await withRetry(() => doc.send(new TransactWriteCommand({ TransactItems: items, ClientRequestToken: randomUUID() })), {
      attempts: 6,
      baseMs: 20,
      maxMs: 500,
      retryable: (err) => {
        const codes = transactionCancellationCodes(err);
        return codes !== undefined && codes.includes('TransactionConflict') && !codes.includes(CONDITION_FAILED);
      },
    });
    return undefined;
  } catch (err) {
    const codes = transactionCancellationCodes(err);
    if (codes?.includes(CONDITION_FAILED)) return codes;
    throw err;
  }
}

/** True when the write happened; false when its condition said it should not. Other errors throw. */
async function conditional(write: () => Promise<unknown>): Promise<boolean> {
  try {
    await retryingTransactionConflicts(write);
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
      return {
        state: 'converting',
        repository,
        claimedAt: number('claimedAt'),
        attempts: number('attempts'),
        ...(typeof item.taskArn === 'string' ? { taskArn: item.taskArn } : {}),
        ...(typeof item.chargedRepo === 'string' && typeof item.chargedDay === 'string' ? { charged: { repo: item.chargedRepo, day: item.chargedDay } } : {}),
      };
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
