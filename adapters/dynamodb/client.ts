// The one way to make the document client the stores use, so every process (Lambdas,
// local mode, tests, benchmarks) marshals items the same way.
//
// removeUndefinedValues: an optional field left undefined is not stored, rather than the
// document client refusing the whole write ("Pass options.removeUndefinedValues=true to
// remove undefined values from map/array/set"); records are plain objects whose optional
// fields are often absent. https://docs.aws.amazon.com/AWSJavaScriptSDK/v3/latest/Package/-aws-sdk-lib-dynamodb/

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export const MARSHALL_OPTIONS = { removeUndefinedValues: true } as const;

/**
 * A document client over `client`, or over a new DynamoDBClient whose endpoint, region and
 * credentials come from the environment (AWS_ENDPOINT_URL_DYNAMODB points it at DynamoDB Local).
 */
export function documentClient(client: DynamoDBClient = new DynamoDBClient({})): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, { marshallOptions: MARSHALL_OPTIONS });
}
