// Where the stack's alarms go: one SNS topic that every CloudWatch alarm of the construct
// tree notifies when it fires and when it recovers, with an optional e-mail subscription.
// An alarm nobody hears about is a dead-letter queue filling in silence.
import { ArnFormat, Aspects, type IAspect, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct, type IConstruct } from 'constructs';

export interface AlarmNotificationsProps {
  /** Every CloudWatch alarm under this construct notifies the topic (alarms added later included). */
  readonly alarmsUnder: IConstruct;
  /** An address subscribed to the topic; AWS mails it a confirmation link first. */
  readonly email?: string;
}

/** Why the topic is not encrypted at rest (cdk-nag AwsSolutions-SNS2). */
export const UNENCRYPTED_TOPIC_REASON =
  'Alarm notifications carry the alarm name, state and metric values only, no build data or secret. ' +
  'CloudWatch cannot publish to a topic encrypted with the AWS managed key aws/sns (its key policy cannot grant cloudwatch.amazonaws.com: ' +
  'https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services), ' +
  'and a customer managed key would cost $1 a month while Slipway idles.';

export class AlarmNotifications extends Construct {
  readonly topic: sns.Topic;

  constructor(scope: Construct, id: string, props: AlarmNotificationsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    // enforceSSL: a topic policy denying sns:Publish without TLS (cdk-nag AwsSolutions-SNS3).
    this.topic = new sns.Topic(this, 'Topic', { displayName: 'Slipway alarms', enforceSSL: true });
    Validations.of(this.topic).acknowledge({ id: 'AwsSolutions-SNS2', reason: UNENCRYPTED_TOPIC_REASON });
    // The topic policy replaces SNS's default one: say explicitly that this account's alarms may publish.
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: { 'aws:SourceArn': stack.formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }) },
        },
      }),
    );
    if (props.email) {
      new sns.Subscription(this, 'Email', { topic: this.topic, protocol: sns.SubscriptionProtocol.EMAIL, endpoint: props.email });
    }
    Aspects.of(props.alarmsUnder).add(new NotifyTopic(this.topic));
  }
}

/** Adds the topic to an alarm's ALARM and OK actions, once per alarm, whenever it was created. */
class NotifyTopic implements IAspect {
  private readonly done = new WeakSet<cloudwatch.Alarm>();
  constructor(private readonly topic: sns.ITopic) {}

  visit(node: IConstruct): void {
    if (!(node instanceof cloudwatch.Alarm) || this.done.has(node)) return;
    this.done.add(node);
    const action = new SnsAction(this.topic);
    node.addAlarmAction(action);
    node.addOkAction(action);
  }
}
