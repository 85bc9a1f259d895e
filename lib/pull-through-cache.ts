// The ECR pull-through cache rules of the deployment: build tasks pull public images through
// the account's own registry, in the Region (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-pull-behavior.html:
// "store the container image in the same Region where the task will run"), and Docker Hub's
// anonymous limit no longer applies. The compiler rewrites the references it covers
// (core/pipeline/pull-through-cache.ts, ENV.pullThroughCache).
//
// The upstreams (core/pipeline/pull-through-cache.ts PULL_THROUGH_CACHE_RULES) are those of
// ECR's list that pipelines name by a fixed host
// (https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache.html): ECR Public,
// the Kubernetes registry and Quay need no credentials; Docker Hub, GitHub's and GitLab's
// (GitLab.com only) registries do, and ECR takes them only from a Secrets Manager secret whose
// name begins with `ecr-pullthroughcache/`, in the rule's account and Region
// (https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache-creating-rule.html),
// holding `{"username": "...", "accessToken": "..."}`: each of those rules exists once the
// deployment names its secret. Left out: Azure Container Registry (a host per customer,
// `<name>.azurecr.io`), Chainguard, and ECR-to-ECR (an IAM role per upstream account).
import { Arn, ArnFormat, Stack, Token } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import { Construct } from 'constructs';
import { PULL_THROUGH_CACHE_RULES, type PullThroughCacheRule } from '../core/pipeline/pull-through-cache.js';
import { ConfigError } from './config.js';

export interface PullThroughCacheProps {
  /** ARN of the `ecr-pullthroughcache/…` secret with Docker Hub credentials; unset: no Docker Hub rule. */
  readonly dockerHubCredentialsSecretArn?: string | undefined;
  /** ARN of the `ecr-pullthroughcache/…` secret with a GitHub user and a token that may read packages; unset: no ghcr.io rule. */
  readonly ghcrCredentialsSecretArn?: string | undefined;
  /** ARN of the `ecr-pullthroughcache/…` secret with a GitLab.com user and a token that may read registries; unset: no registry.gitlab.com rule. */
  readonly gitlabRegistryCredentialsSecretArn?: string | undefined;
}

/** The rules a deployment with `props` has: each that needs no credentials, and each whose secret it names. */
export function deployedRules(props: PullThroughCacheProps): PullThroughCacheRule[] {
  return PULL_THROUGH_CACHE_RULES.filter((rule) => !rule.credentials || Boolean(props[rule.credentials]));
}

export class PullThroughCacheRules extends Construct {
  /** Registry domain → repository prefix, for the planner (ENV.pullThroughCache). */
  readonly prefixes: Record<string, string> = {};

  constructor(scope: Construct, id: string, props: PullThroughCacheProps) {
    super(scope, id);
    for (const rule of deployedRules(props)) {
      const credentialArn = rule.credentials ? props[rule.credentials] : undefined;
      if (rule.credentials && credentialArn) checkSecretPlace(Stack.of(this), rule.credentials, credentialArn);
      new ecr.CfnPullThroughCacheRule(this, rule.id, {
        ecrRepositoryPrefix: rule.prefix,
        upstreamRegistryUrl: rule.upstream,
        ...(credentialArn ? { credentialArn } : {}),
      });
      this.prefixes[rule.domain] = rule.prefix;
    }
  }
}

/**
 * ECR reads a rule's secret only in the rule's own account and Region (pull-through-cache-creating-rule.html,
 * Prerequisites): a secret elsewhere would deploy and then fail every pull, so say so at synth
 * when the stack's environment is known.
 */
function checkSecretPlace(stack: Stack, key: string, secretArn: string): void {
  const { region, account } = Arn.split(secretArn, ArnFormat.COLON_RESOURCE_NAME);
  const where = [
    !Token.isUnresolved(stack.region) && region !== stack.region ? `Region ${region}, the stack's ${stack.region}` : undefined,
    !Token.isUnresolved(stack.account) && account !== stack.account ? `account ${account}, the stack's ${stack.account}` : undefined,
  ].filter((x) => x !== undefined);
  if (where.length > 0) {
    throw new ConfigError(`SLIPWAY-CONFIG: context ${key}: the secret is in ${where.join(' and ')}; ECR reads a pull-through cache rule's credentials only from a secret in the stack's own account and Region: create it there`);
  }
}
