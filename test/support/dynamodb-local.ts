// DynamoDB Local (through the local stand-in) with the build table created, for tests.

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../adapters/dynamodb/client.js';
import { startDynamoDb } from '../../local/dynamodb.js';
import { ensureTable } from '../../lambdas/shared/table.js';

export interface LocalDynamo {
  endpoint: string;
  client: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  tableName: string;
  stop(): Promise<void>;
}

export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
export const LOCAL_REGION = 'us-east-1';

export async function startDynamoLocal(tableName = 'slipway-test'): Promise<LocalDynamo> {
  const server = await startDynamoDb();
  const client = new DynamoDBClient({ endpoint: server.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  try {
    await ensureTable(client, tableName);
  } catch (err) {
    client.destroy();
    await server.stop();
    throw err;
  }
  return {
    endpoint: server.endpoint,
    client,
    doc: documentClient(client),
    tableName,
    stop: async () => {
      client.destroy();
      await server.stop();
    },
  };
}
