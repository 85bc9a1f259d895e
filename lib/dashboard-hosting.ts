// The web dashboard: static files in a private S3 bucket behind CloudFront, with `/api/*`
// routed to the API Lambda's function URL, so the dashboard and its API share one origin
// (no CORS) and nothing runs, or costs, while nobody looks.
//
// Why CloudFront rather than the API Lambda serving the files: the API stays a pure JSON
// service, static files are cached at the edge, and a request for a file never wakes a
// Lambda. CloudFront bills per request, so an idle dashboard costs nothing.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Annotations, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import { nagRef } from './nag.js';

/**
 * What to do when the dashboard's build output is missing at synth:
 * - `fail` (default): stop with a message saying how to build it. A deploy never ships
 *   without the dashboard by accident.
 * - `placeholder`: deploy a one-page placeholder that says how to build and redeploy.
 *   Chosen explicitly (the app's cdk.json does, so `cdk synth` works on a fresh clone).
 */
export type MissingDashboard = 'fail' | 'placeholder';

export interface DashboardHostingProps {
  /** The dashboard's build output (index.html and its assets). */
  readonly assetDir: string;
  readonly whenMissing: MissingDashboard;
  /** The API Lambda's function URL, served at `/api/*` on the same origin. */
  readonly apiUrl: lambda.IFunctionUrl;
}

export const API_PATH_PATTERN = '/api/*';

// CloudFront Functions cost per request only. A path with no file extension is a route of
// the single-page app (`/builds/42` → `/index.html`); a path ending in `/` gets its index.
const SPA_REWRITE = `function handler(event) {
  var request = event.request;
  var uri = request.uri;
  if (uri.endsWith('/')) { request.uri = uri + 'index.html'; }
  else if (uri.lastIndexOf('.') < uri.lastIndexOf('/')) { request.uri = '/index.html'; }
  return request;
}`;

export class DashboardHosting extends Construct {
  readonly bucket: s3.Bucket;
  readonly distribution: cloudfront.Distribution;
  /** https://<distribution>/ */
  readonly url: string;
  /** Whether the real build output was deployed (false: the placeholder). */
  readonly deployed: boolean;

  constructor(scope: Construct, id: string, props: DashboardHostingProps) {
    super(scope, id);
    const source = dashboardSource(this, props);
    this.deployed = source.real;

    this.bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      // Its content is rebuilt from the repository on every deploy; the deployment below
      // empties it on delete, so the bucket goes with the stack.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'The bucket holds only the public dashboard build, rebuilt on every deploy; CloudFront is the only reader.',
    });

    const rewrite = new cloudfront.Function(this, 'SpaRewrite', {
      code: cloudfront.FunctionCode.fromInline(SPA_REWRITE),
      runtime: cloudfront.FunctionRuntime.JS_2_0,
      comment: 'Slipway dashboard: single-page app routes to index.html',
    });

    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: 'Slipway dashboard and API',
      defaultRootObject: 'index.html',
      priceClass: cloudfront.PriceClass.PRICE_CLASS_100,
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        functionAssociations: [{ function: rewrite, eventType: cloudfront.FunctionEventType.VIEWER_REQUEST }],
      },
      additionalBehaviors: {
        [API_PATH_PATTERN]: {
          origin: new origins.FunctionUrlOrigin(props.apiUrl),
          viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
          allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
          // Never cached; with caching disabled this policy forwards every viewer header,
          // the Authorization bearer token included, to the API.
          cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
          originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
        },
      },
    });
    Validations.of(this.distribution).acknowledge(
      {
        id: 'AwsSolutions-CFR1',
        reason: 'A CI dashboard for the team that deploys it; the API refuses requests without the bearer token, wherever they come from.',
      },
      { id: 'AwsSolutions-CFR2', reason: 'A web ACL bills every month even when idle; the API authenticates every request itself.' },
      {
        id: 'AwsSolutions-CFR3',
        reason: 'Access logs need a log bucket with ACLs enabled; the API Lambda logs every request it serves.',
      },
      {
        id: 'AwsSolutions-CFR4',
        reason: 'The default *.cloudfront.net certificate is used (no custom domain to configure); it cannot pin the minimum TLS version.',
      },
    );

    new s3deploy.BucketDeployment(this, 'Deploy', {
      sources: [source.source],
      destinationBucket: this.bucket,
      distribution: this.distribution,
      distributionPaths: ['/*'],
      prune: true,
      retainOnDelete: false,
    });
    this.url = `https://${this.distribution.distributionDomainName}/`;
    acknowledgeDeploymentHandler(Stack.of(this), nagRef(this.bucket, 'Arn'));
  }
}

/** Whether the dashboard build exists; throws the user-facing error when it must and does not. */
export function checkDashboardBuild(assetDir: string, whenMissing: MissingDashboard): boolean {
  const index = join(assetDir, 'index.html');
  if (existsSync(index)) return true;
  if (whenMissing === 'fail') {
    throw new Error(
      `SLIPWAY-CDK: dashboard: ${index} does not exist; build the dashboard first (its output folder must hold ` +
        'index.html), or pass dashboardWhenMissing=placeholder to deploy a placeholder page instead',
    );
  }
  return false;
}

function dashboardSource(scope: Construct, props: DashboardHostingProps): { source: s3deploy.ISource; real: boolean } {
  const index = join(props.assetDir, 'index.html');
  if (checkDashboardBuild(props.assetDir, props.whenMissing)) return { source: s3deploy.Source.asset(props.assetDir), real: true };
  Annotations.of(scope).addWarningV2(
    'slipway:dashboardPlaceholder',
    `The dashboard build (${index}) is missing: a placeholder page is deployed instead. Build the dashboard and deploy again.`,
  );
  const page =
    '<!doctype html><meta charset="utf-8"><title>Slipway</title>' +
    '<h1>Slipway</h1><p>The dashboard was not built when this stack was deployed. ' +
    'Build it, then run <code>npx cdk deploy</code> again. The API is served at <a href="/api/builds">/api/</a>.</p>';
  return { source: s3deploy.Source.data('index.html', page), real: false };
}

/** The bucket deployment's handler is one singleton Lambda per stack, created by CDK. */
function acknowledgeDeploymentHandler(stack: Stack, bucketRef: string): void {
  for (const child of stack.node.children) {
    if (!child.node.id.startsWith('Custom::CDKBucketDeployment')) continue;
    const managed = 'CDK-managed deployment handler (s3-deployment), run only during cdk deploy; its policy is generated by aws-cdk-lib';
    Validations.of(child).acknowledge(
      { id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]', reason: managed },
      { id: 'AwsSolutions-L1', reason: 'CDK-managed deployment handler: its runtime is chosen and updated by aws-cdk-lib.' },
      ...['s3:GetObject*', 's3:GetBucket*', 's3:List*', 's3:DeleteObject*', 's3:Abort*'].map((action) => ({
        id: `AwsSolutions-IAM5[Action::${action}]`,
        reason: `${managed}: it copies the dashboard build from the CDK asset bucket and prunes stale files.`,
      })),
      { id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*]', reason: `${managed}: reads the uploaded asset.` },
      { id: `AwsSolutions-IAM5[Resource::${bucketRef}/*]`, reason: `${managed}: writes the dashboard's files.` },
      { id: 'AwsSolutions-IAM5[Resource::*]', reason: `${managed}: cloudfront:CreateInvalidation has no resource-level permission in that policy.` },
    );
  }
}
