// A stage or step write that meets the API's TransactWriteItems on the same item is rejected with
// TransactionConflictException and writes nothing
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html,
// "Transaction conflict handling"); the SDK does not retry it, so conditionalUpdate does.

import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { Expression } from '../../adapters/dynamodb/expression.js';
import { conditionalUpdate, type Table } from '../../adapters/dynamodb/records.js';
import { classifyAwsError } from '../../core/util/aws-errors.js';

const rejection = (name: string) => Object.assign(new Error(`${name} from DynamoDB`), { name, $metadata: { httpStatusCode: 400 } });

function tableAnswering(answers: (Error | Record<string, unknown>)[]): Table & { calls: number } {
  const table = {
    calls: 0,
    tableName: 't',
    now: () => 0,
    doc: {
      send: async () => {
        const answer = answers[table.calls++];
        if (answer instanceof Error) throw answer;
        return { Attributes: answer };
      },
    } as unknown as DynamoDBDocumentClient,
  };
  return table;
}

const update = () => {
  const e = new Expression();
  e.setAll({ status: 'running' });
  return e;
};

describe('conditionalUpdate against a transaction on the item', () => {
  it('classifies TransactionConflictException as transient: nothing was written', () => {
    expect(classifyAwsError(rejection('TransactionConflictException'))).toMatchObject({ kind: 'transient', retryable: true });
  });

  it('writes again after a TransactionConflictException, and answers with the written item', async () => {
    const table = tableAnswering([rejection('TransactionConflictException'), rejection('TransactionConflictException'), { PK: 'B', SK: 'S', status: 'running' }]);
    await expect(conditionalUpdate(table, { PK: 'B', SK: 'S' }, update())).resolves.toMatchObject({ status: 'running' });
    expect(table.calls).toBe(3);
  });

  it('a refused condition is not retried (null), nor any other error (thrown once)', async () => {
    const refused = tableAnswering([rejection('ConditionalCheckFailedException')]);
    await expect(conditionalUpdate(refused, { PK: 'B', SK: 'S' }, update())).resolves.toBeNull();
    expect(refused.calls).toBe(1);
    const invalid = tableAnswering([rejection('ValidationException')]);
    await expect(conditionalUpdate(invalid, { PK: 'B', SK: 'S' }, update())).rejects.toThrow(/ValidationException/);
    expect(invalid.calls).toBe(1);
  });
});
