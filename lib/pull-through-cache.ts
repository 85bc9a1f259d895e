// The ECR pull-through cache rules of the deployment: build tasks pull public images through
// the account's own registry, in the Region (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-pull-behavior.html:
// "store the container image in the same Region where the task will run"), and Docker Hub's
// anonymous limit no longer applies. The compiler rewrites the references it covers
// (core/pipeline/pull-through-cache.ts, ENV.pullThroughCache).
//
// ECR Public and Quay need no credentials. Docker Hub does: ECR takes them only from a Secrets
// Manager secret whose name begins with `ecr-pullthroughcache/`
// (https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache-creating-rule.html),
// holding `{"username": "...", "accessToken": "..."}`, so that rule exists once the deployment
// names such a secret (`dockerHubCredentialsSecretArn`).
import * as ecr from 'aws-cdk-lib/aws-ecr';
import { Construct } from 'constructs';

export interface PullThroughCacheProps {
  /** ARN of the `ecr-pullthroughcache/…` secret with Docker Hub credentials; unset: no Docker Hub rule. */
  readonly dockerHubCredentialsSecretArn?: string | undefined;
}

/** Upstream registry (as Docker names it) → its upstream URL and this deployment's repository prefix. */
const RULES = [
  { domain: 'public.ecr.aws', upstream: 'public.ecr.aws', prefix: 'slipway-ecr-public', id: 'EcrPublic', credentials: false },
  { domain: 'quay.io', upstream: 'quay.io', prefix: 'slipway-quay', id: 'Quay', credentials: false },
  { domain: 'docker.io', upstream: 'registry-1.docker.io', prefix: 'slipway-docker-hub', id: 'DockerHub', credentials: true },
] as const;

export class PullThroughCacheRules extends Construct {
  /** Registry domain → repository prefix, for the planner (ENV.pullThroughCache). */
  readonly prefixes: Record<string, string> = {};

  constructor(scope: Construct, id: string, props: PullThroughCacheProps) {
    super(scope, id);
    for (const rule of RULES) {
      if (rule.credentials && !props.dockerHubCredentialsSecretArn) continue;
      new ecr.CfnPullThroughCacheRule(this, rule.id, {
        ecrRepositoryPrefix: rule.prefix,
        upstreamRegistryUrl: rule.upstream,
        ...(rule.credentials ? { credentialArn: props.dockerHubCredentialsSecretArn } : {}),
      });
      this.prefixes[rule.domain] = rule.prefix;
    }
  }
}
