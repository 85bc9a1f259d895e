// The one update-expression builder of the stores (adapters/dynamodb/expression.ts). Its
// expressions run against DynamoDB Local in test/control-plane/store.test.ts and the
// stage-store tests (task-events, autoscaler, build-finish, task-event-truth).

import { describe, expect, it } from 'vitest';
import { Expression } from '../../adapters/dynamodb/expression.js';

describe('Expression', () => {
  it('puts every attribute behind a name placeholder (status is a reserved word) and every value behind a value placeholder', () => {
    const e = new Expression();
    e.set('status', 'running');
    e.set('skipped', undefined);
    e.keep('startedAt', 5);
    e.remove('GSI2PK');
    e.add('startFailures', 1);
    e.when(`${e.name('status')} = ${e.value('pending')}`);
    expect(e.input()).toEqual({
      UpdateExpression: 'SET #status = :v0, #startedAt = if_not_exists(#startedAt, :v1) REMOVE #GSI2PK ADD #startFailures :v2',
      ConditionExpression: '(attribute_exists(PK)) AND (#status = :v3)',
      ExpressionAttributeNames: { '#status': 'status', '#startedAt': 'startedAt', '#GSI2PK': 'GSI2PK', '#startFailures': 'startFailures' },
      ExpressionAttributeValues: { ':v0': 'running', ':v1': 5, ':v2': 1, ':v3': 'pending' },
    });
  });

  it('sends no condition when the item need not exist, and no values map when there are none (DynamoDB refuses an empty one)', () => {
    const e = new Expression({ mustExist: false });
    e.remove('taskArn');
    expect(e.input()).toEqual({ UpdateExpression: 'REMOVE #taskArn', ExpressionAttributeNames: { '#taskArn': 'taskArn' } });
  });

  it('refuses two attributes that would share one placeholder, rather than pointing the expression at the wrong one', () => {
    const e = new Expression();
    e.set('build-id', 'a');
    expect(() => e.set('build_id', 'b')).toThrow('expression: attributes build-id and build_id would share the placeholder #build_id; rename one');
  });

  it('guards the status order by rank (core/builds/status.ts) or by an explicit list, and the event version', () => {
    const forward = new Expression();
    forward.guardStatus('running', undefined);
    expect(forward.condition).toBe('(attribute_exists(PK)) AND (#statusRank <= :v0)');
    expect(forward.values).toEqual({ ':v0': 1, ':v1': 1 });
    const final = new Expression();
    final.guardStatus('success', undefined);
    final.guardVersion(7);
    expect(final.condition).toBe('(attribute_exists(PK)) AND (#statusRank < :v0) AND (attribute_not_exists(#eventVersion) OR #eventVersion < :v2)');
    expect(final.update).toBe('SET #statusRank = :v1, #eventVersion = :v2');
    const listed = new Expression();
    listed.guardStatus('pending', ['running']);
    expect(listed.condition).toBe('(attribute_exists(PK)) AND (#status IN (:v0))');
  });
});
