// What `slipway doctor` reads from AWS, with the operator's credentials: the stack's
// outputs, the Lambdas' configuration, an IAM policy simulation, Service Quotas, Lambda's
// account settings, the agent images in ECR and what else their repositories hold, and the planner's
// answer to a direct invocation. Each returns plain values for core/doctor/judge.ts.

import { type CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { BatchGetImageCommand, type ECRClient, ListImagesCommand } from '@aws-sdk/client-ecr';
import { type EvaluationResult, type IAMClient, SimulatePrincipalPolicyCommand } from '@aws-sdk/client-iam';
import { GetAccountSettingsCommand, GetFunctionConfigurationCommand, InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { GetServiceQuotaCommand, type ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import type { EcrImageToCheck } from '../../core/doctor/agent-images.js';
import type { ForkPullRepository, ListedImage } from '../../core/doctor/fork-pulls.js';
import type { LambdaConcurrencyObservation, QuotaObservation, RunTaskSimulation } from '../../core/doctor/judge.js';
import type { PlannerDoctorRequest } from '../../core/doctor/planner-probe.js';
import { MANIFEST_ACCEPT } from '../../core/images/manifest.js';

/** The stack's outputs by key (DescribeStacks). */
export async function stackOutputs(cfn: CloudFormationClient, stackName: string): Promise<Record<string, string>> {
  const res = await cfn.send(new DescribeStacksCommand({ StackName: stackName }));
  const stack = res.Stacks?.[0];
  if (!stack) throw new Error(`CloudFormation knows no stack ${stackName}`);
  return Object.fromEntries((stack.Outputs ?? []).filter((o) => o.OutputKey && o.OutputValue !== undefined).map((o) => [o.OutputKey!, o.OutputValue!]));
}

/** A function's role and environment (GetFunctionConfiguration). */
export async function functionFacts(lambda: LambdaClient, name: string): Promise<{ roleArn: string; env: Record<string, string> }> {
  const res = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name }));
  return { roleArn: res.Role ?? '', env: res.Environment?.Variables ?? {} };
}

/** The function's answer to a direct invocation; a function error becomes a thrown Error with its message. */
export async function invokePlanner(lambda: LambdaClient, name: string, request: PlannerDoctorRequest): Promise<unknown> {
  const res = await lambda.send(new InvokeCommand({ FunctionName: name, InvocationType: 'RequestResponse', Payload: new TextEncoder().encode(JSON.stringify(request)) }));
  const text = res.Payload ? new TextDecoder().decode(res.Payload) : 'null';
  if (res.FunctionError) {
    let message = text;
    try {
      message = String((JSON.parse(text) as { errorMessage?: unknown }).errorMessage ?? text);
    } catch {
      // The payload is the error as text.
    }
    throw new Error(`${name} failed (${res.FunctionError}): ${message}`);
  }
  return JSON.parse(text) as unknown;
}

/** Lambda's account limit and what is left unreserved (GetAccountSettings). */
export async function lambdaConcurrency(lambda: LambdaClient): Promise<LambdaConcurrencyObservation> {
  const res = await lambda.send(new GetAccountSettingsCommand({}));
  const limit = res.AccountLimit;
  if (limit?.ConcurrentExecutions === undefined || limit.UnreservedConcurrentExecutions === undefined) throw new Error('GetAccountSettings returned no AccountLimit');
  return { concurrentExecutions: limit.ConcurrentExecutions, unreservedConcurrentExecutions: limit.UnreservedConcurrentExecutions };
}

/**
 * Whether the autoscaler's role may start a build task: ecs:RunTask on a Slipway task
 * definition in the build cluster, and iam:PassRole of the build roles to ECS tasks. IAM's
 * policy simulator evaluates the role's policies "without performing the API operations"
 * (https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html), and
 * says when a permissions boundary or an Organizations SCP is what denies
 * (API_EvaluationResult.html: PermissionsBoundaryDecisionDetail, OrganizationsDecisionDetail).
 * A real RunTask would start a task; one with a bogus definition is refused by validation,
 * which tells nothing about the role. What a simulation cannot see, the hello build covers.
 */
export async function simulateRunTask(
  iam: IAMClient,
  input: { roleArn: string; clusterArn: string; taskDefinitionArn: string; passRoles: string[] },
): Promise<RunTaskSimulation> {
  const decisions: RunTaskSimulation['decisions'] = [];
  const run = await iam.send(
    new SimulatePrincipalPolicyCommand({
      PolicySourceArn: input.roleArn,
      ActionNames: ['ecs:RunTask'],
      ResourceArns: [input.taskDefinitionArn],
      ContextEntries: [{ ContextKeyName: 'ecs:cluster', ContextKeyType: 'string', ContextKeyValues: [input.clusterArn] }],
    }),
  );
  for (const r of run.EvaluationResults ?? []) decisions.push({ action: r.EvalActionName ?? 'ecs:RunTask', resource: r.EvalResourceName ?? input.taskDefinitionArn, decision: decisionOf(r) });
  if (input.passRoles.length > 0) {
    const pass = await iam.send(
      new SimulatePrincipalPolicyCommand({
        PolicySourceArn: input.roleArn,
        ActionNames: ['iam:PassRole'],
        ResourceArns: input.passRoles,
        ContextEntries: [{ ContextKeyName: 'iam:PassedToService', ContextKeyType: 'string', ContextKeyValues: ['ecs-tasks.amazonaws.com'] }],
      }),
    );
    for (const r of pass.EvaluationResults ?? []) decisions.push({ action: r.EvalActionName ?? 'iam:PassRole', resource: r.EvalResourceName ?? '', decision: decisionOf(r) });
  }
  return { role: input.roleArn, cluster: input.clusterArn, decisions };
}

/** `allowed`, or the denial with what denied it when IAM says (a boundary, an SCP). */
function decisionOf(r: EvaluationResult): string {
  const decision = r.EvalDecision ?? 'unknown';
  if (decision === 'allowed') return decision;
  const by = [
    r.PermissionsBoundaryDecisionDetail?.AllowedByPermissionsBoundary === false ? 'the permissions boundary' : undefined,
    r.OrganizationsDecisionDetail?.AllowedByOrganizations === false ? 'an Organizations SCP' : undefined,
  ].filter(Boolean);
  return by.length > 0 ? `${decision} by ${by.join(' and ')}` : decision;
}

/**
 * Fargate's vCPU quotas (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-quotas.html):
 * "Fargate On-Demand vCPU resource count" L-3032A538 and "Fargate Spot vCPU resource count"
 * L-36FBB829, service code `fargate`. The applied value, else AWS's default for the account.
 */
export const FARGATE_QUOTA_CODES = { onDemand: 'L-3032A538', spot: 'L-36FBB829' } as const;

export async function fargateQuota(quotas: ServiceQuotasClient, code: string): Promise<QuotaObservation> {
  try {
    const res = await quotas.send(new GetServiceQuotaCommand({ ServiceCode: 'fargate', QuotaCode: code }));
    return res.Quota?.Value !== undefined ? { code, value: res.Quota.Value } : { code, error: 'Service Quotas returned no value' };
  } catch (err) {
    return { code, error: `${(err as Error).name}: ${(err as Error).message}` };
  }
}

/** The image's manifest as ECR serves it, or null when the tag or digest is not in the repository. */
export async function ecrManifest(ecr: ECRClient, image: EcrImageToCheck): Promise<{ mediaType?: string; body: string } | null> {
  const res = await ecr.send(
    new BatchGetImageCommand({
      registryId: image.accountId,
      repositoryName: image.repository,
      imageIds: [image.imageId],
      acceptedMediaTypes: MANIFEST_ACCEPT.split(', '),
    }),
  );
  const found = res.images?.[0];
  if (!found?.imageManifest) {
    const failure = res.failures?.[0];
    if (!failure || failure.failureCode === 'ImageNotFound' || failure.failureCode === 'ImageTagDoesNotMatchDigest') return null;
    throw new Error(`${failure.failureCode}: ${failure.failureReason ?? ''}`);
  }
  return { ...(found.imageManifestMediaType ? { mediaType: found.imageManifestMediaType } : {}), body: found.imageManifest };
}

/** Pages of ListImages read at most (1,000 images each): enough to tell a crowded repository. */
const MAX_LIST_PAGES = 5;

/** The tagged images of a repository (ListImages), up to MAX_LIST_PAGES pages; `truncated` when there were more. */
export async function ecrTaggedImages(ecr: ECRClient, repository: Pick<ForkPullRepository, 'registryId' | 'repository'>): Promise<{ images: ListedImage[]; truncated: boolean }> {
  const images: ListedImage[] = [];
  let nextToken: string | undefined;
  for (let page = 0; page < MAX_LIST_PAGES; page++) {
    const res = await ecr.send(
      new ListImagesCommand({ registryId: repository.registryId, repositoryName: repository.repository, filter: { tagStatus: 'TAGGED' }, maxResults: 1000, ...(nextToken ? { nextToken } : {}) }),
    );
    for (const id of res.imageIds ?? []) images.push({ ...(id.imageTag ? { imageTag: id.imageTag } : {}), ...(id.imageDigest ? { imageDigest: id.imageDigest } : {}) });
    nextToken = res.nextToken;
    if (!nextToken) return { images, truncated: false };
  }
  return { images, truncated: true };
}
