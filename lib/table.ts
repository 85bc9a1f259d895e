// The single DynamoDB table, declared from the same definition local mode creates
// (adapters/dynamodb/keys.ts), so the deployed keys and indexes can never drift from the code.
import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { TTL_ATTRIBUTE, tableDefinition } from '../adapters/dynamodb/keys.js';

export interface BuildTableProps {
  /** DynamoDB deletion protection, and RETAIN instead of DESTROY when the stack is deleted. */
  readonly deletionProtection: boolean;
}

type Definition = ReturnType<typeof tableDefinition>;
type KeySchema = Definition['KeySchema'];

export class BuildTable extends Construct {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: BuildTableProps) {
    super(scope, id);
    // The name is CloudFormation's to choose (the stack stays environment-agnostic and
    // two stacks can share an account); only the keys and indexes come from the definition.
    const definition = tableDefinition('unused');
    const attribute = (name: string): dynamodb.Attribute => {
      const found = definition.AttributeDefinitions.find((a) => a.AttributeName === name);
      if (!found) throw new Error(`SLIPWAY-CDK: table definition has no attribute ${name}`);
      return { name, type: dynamodb.AttributeType.STRING };
    };
    const keys = (schema: KeySchema) => {
      const hash = schema.find((k) => k.KeyType === 'HASH');
      const range = schema.find((k) => k.KeyType === 'RANGE');
      if (!hash) throw new Error('SLIPWAY-CDK: table definition has a key schema without HASH key');
      return {
        partitionKey: attribute(hash.AttributeName),
        ...(range ? { sortKey: attribute(range.AttributeName) } : {}),
      };
    };

    this.table = new dynamodb.Table(this, 'Table', {
      ...keys(definition.KeySchema),
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TTL_ATTRIBUTE,
      deletionProtection: props.deletionProtection,
      removalPolicy: props.deletionProtection ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    for (const index of definition.GlobalSecondaryIndexes) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.IndexName,
        ...keys(index.KeySchema),
        projectionType: dynamodb.ProjectionType.ALL,
      });
    }
  }
}
