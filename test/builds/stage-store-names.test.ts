// StageStore builds its expressions' attribute names itself (several attributes are
// DynamoDB reserved words), and must keep the names a caller gives.
import { describe, expect, it } from 'vitest';
import { aliasAttributes } from '../../adapters/dynamodb/stage-store.js';

describe('aliasAttributes', () => {
  it('keeps a placeholder the caller names for another attribute (#st → status), instead of reading it as attribute "st"', () => {
    const { expressions, names } = aliasAttributes(['SET #st = :s, #r = :r', 'attribute_exists(PK) AND #st = :pending'], { '#st': 'status', '#r': 'reason' });
    expect(expressions).toEqual(['SET #st = :s, #r = :r', 'attribute_exists(PK) AND #st = :pending']);
    expect(names).toEqual({ '#st': 'status', '#r': 'reason' });
  });

  it('aliases bare attribute words and unnamed #word placeholders to themselves', () => {
    const { expressions, names } = aliasAttributes(['SET status = :s, GSI2PK = :pk REMOVE #extra', 'statusRank < :final AND message <> :message']);
    expect(expressions).toEqual(['SET #status = :s, GSI2PK = :pk REMOVE #extra', '#statusRank < :final AND #message <> :message']);
    expect(names).toEqual({ '#status': 'status', '#extra': 'extra', '#statusRank': 'statusRank', '#message': 'message' });
  });

  it('leaves out given names the expressions do not use (DynamoDB refuses unused names)', () => {
    expect(aliasAttributes(['SET taskArn = :arn'], { '#status': 'status' }).names).toEqual({ '#taskArn': 'taskArn' });
  });

  it('refuses a given placeholder that the expression uses for another attribute', () => {
    expect(() => aliasAttributes(['SET status = :s'], { '#status': 'reason' })).toThrow(/#status is given for attribute reason/);
  });
});
