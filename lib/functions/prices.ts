// prices: once a day, the AWS Price List Query API's prices of the Regions builds run in,
// into the build table (lambdas/prices). A Lambda of its own, not a step of the autoscaler's
// pass: that pass runs every minute with a reserved concurrency of 1 and starts builds, so a
// slow call to the Price List endpoint (in us-east-1, wherever the stack is) must not delay it,
// and the autoscaler's role stays without pricing rights.
import { Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import { ENV } from '../../core/config/lambda-env.js';
import { acknowledgeWildcardResource } from '../nag.js';
import { type FunctionContext, defaultPolicy, roleOf, setEnvironment } from './context.js';

/** How often the prices are read: AWS changes them a few times a year, announced ahead. */
export const PRICE_REFRESH_RATE = Duration.days(1);

export function configurePrices(ctx: FunctionContext): void {
  const fn = ctx.functions.prices;
  const region = Stack.of(ctx.scope).region;
  setEnvironment(fn, {
    [ENV.tableName]: ctx.table.table.tableName,
    // The stack's own Region: its builds are the ones priced.
    [ENV.priceRegions]: region,
  });
  // Writes its one item per Region (PRICES#<region>, adapters/dynamodb/price-store.ts), reads nothing.
  // (A statement of its own: Table.grant would add the indexes, which it never touches.)
  roleOf(fn).addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'WritePrices', actions: ['dynamodb:PutItem'], resources: [ctx.table.table.tableArn] }));
  // GetProducts has no resource-level permission ("Resource types: none" in the Service
  // Authorization Reference for AWS Price List): the statement names the one action.
  roleOf(fn).addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'ReadPriceList', actions: ['pricing:GetProducts'], resources: ['*'] }));

  new events.Rule(ctx.scope, 'PricesSchedule', {
    description: 'Slipway: refresh the price table from the AWS Price List',
    schedule: events.Schedule.rate(PRICE_REFRESH_RATE),
    // A failed refresh keeps yesterday's prices; tomorrow's run tries again.
    targets: [new targets.LambdaFunction(fn, { retryAttempts: 2, maxEventAge: Duration.hours(6) })],
  });

  acknowledgeWildcardResource(defaultPolicy('prices', fn), '*', 'pricing:GetProducts supports no resource-level permission; the role may call nothing else of the Price List.');
}
