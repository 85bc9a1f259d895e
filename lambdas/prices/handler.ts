// The price refresh Lambda, run once a day by an EventBridge schedule (lib/functions/prices.ts):
// reads the AWS Price List Query API (pricing:GetProducts) and stores each Region's prices in
// the build table, where the execution Lambdas read them to price finished builds.
//
// The Price List Query API answers only at a few endpoints of its own (us-east-1 and
// ap-south-1: https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/using-price-list-query-api.html,
// "The AWS Price List Query API provides the following two endpoints"), whatever Region is
// priced: the client is pinned to us-east-1.

import { GetProductsCommand, PricingClient } from '@aws-sdk/client-pricing';
import type { Context } from 'aws-lambda';
import { DynamoPriceStore } from '../../adapters/dynamodb/price-store.js';
import { ENV } from '../../core/config/lambda-env.js';
import { dynamoDocument } from '../shared/clients.js';
import { listEnv, requireEnv, type Env } from '../shared/config.js';
import { lambdaLogger, logTo, startInvocation } from '../shared/observability/logger.js';
import { refreshPrices, type GetProductsPage, type RefreshDeps, type RefreshResult } from './refresh.js';

/** The Price List Query API's Region (one of its three endpoints). */
export const PRICE_LIST_API_REGION = 'us-east-1';

export function getProductsOf(client: PricingClient): GetProductsPage {
  return async ({ serviceCode, regionCode, nextToken }) => {
    const res = await client.send(
      new GetProductsCommand({
        ServiceCode: serviceCode,
        Filters: [{ Type: 'TERM_MATCH', Field: 'regionCode', Value: regionCode }],
        FormatVersion: 'aws_v1',
        MaxResults: 100,
        ...(nextToken ? { NextToken: nextToken } : {}),
      }),
    );
    return { priceList: (res.PriceList ?? []).map((p: unknown) => (typeof p === 'string' ? p : JSON.stringify(p))), ...(res.NextToken ? { nextToken: res.NextToken } : {}) };
  };
}

export function pricesDepsFromEnv(env: Env = process.env): RefreshDeps {
  const tableName = requireEnv(env, ENV.tableName, 'where the refreshed prices are stored');
  const regions = listEnv(env, ENV.priceRegions);
  if (regions.length === 0) throw new Error(`config: ${ENV.priceRegions} names no Region (the stack sets its own)`);
  return {
    getProducts: getProductsOf(new PricingClient({ region: PRICE_LIST_API_REGION })),
    store: new DynamoPriceStore(dynamoDocument(), tableName),
    regions,
    now: Date.now,
    log: logTo(lambdaLogger('prices', env)),
  };
}

const logger = lambdaLogger('prices');
let deps: RefreshDeps | undefined;

export async function handler(_event: unknown, context?: Context): Promise<RefreshResult[]> {
  startInvocation(logger, context);
  deps ??= pricesDepsFromEnv();
  return refreshPrices(deps);
}
