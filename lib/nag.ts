// cdk-nag acknowledgements that name one finding exactly. A finding about a resource ARN
// spells references the way cdk-nag prints them (`<LogicalId.Arn>`), so the logical id is
// computed here rather than copied from a report, and survives renames of the tree.
import { CfnElement, Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** `<LogicalId.Attribute>` (or `<LogicalId>` for a Ref) of a construct's resource, as cdk-nag prints it. */
export function nagRef(construct: IConstruct, attribute?: string): string {
  const element = construct instanceof CfnElement ? construct : construct.node.defaultChild;
  if (!(element instanceof CfnElement)) throw new Error(`SLIPWAY-CDK: ${construct.node.path} has no CloudFormation resource`);
  return `<${Stack.of(element).resolve(element.logicalId)}${attribute ? `.${attribute}` : ''}>`;
}

/** Acknowledges a wildcard-resource finding (AwsSolutions-IAM5) on one policy, with its reason. */
export function acknowledgeWildcardResource(policy: IConstruct, resource: string, reason: string): void {
  Validations.of(policy).acknowledge({ id: `AwsSolutions-IAM5[Resource::${resource}]`, reason });
}

/** Acknowledges a wildcard-action finding (AwsSolutions-IAM5[Action::…]) on one policy, with its reason. */
export function acknowledgeWildcardAction(policy: IConstruct, action: string, reason: string): void {
  Validations.of(policy).acknowledge({ id: `AwsSolutions-IAM5[Action::${action}]`, reason });
}
