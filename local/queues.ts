// The control plane's queues in local mode, shaped like the deployed ones (lib/queues.ts):
// each with a dead-letter queue, so a message that keeps failing is parked where it can be
// looked at instead of being retried forever.
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { JOBS_MAX_RECEIVES } from '../core/scaling/job.js';

export interface LocalQueues {
  eventsUrl: string;
  eventsDeadLetterUrl: string;
  jobsUrl: string;
  jobsDeadLetterUrl: string;
}

export const LOCAL_QUEUES = {
  events: 'slipway-events',
  jobs: 'slipway-jobs',
  /** A webhook event that failed five times will fail a sixth (as deployed). */
  eventsMaxReceives: 5,
  /** As deployed: the autoscaler deletes a job on the pass that reads it (stages wait in the table). */
  jobsMaxReceives: JOBS_MAX_RECEIVES,
} as const;

export async function createLocalQueues(sqs: SQSClient): Promise<LocalQueues> {
  const events = await queueWithDeadLetter(sqs, LOCAL_QUEUES.events, { VisibilityTimeout: '30' }, LOCAL_QUEUES.eventsMaxReceives);
  // Visibility as deployed: the autoscaler sets its own per receive, this is the fallback.
  const jobs = await queueWithDeadLetter(sqs, LOCAL_QUEUES.jobs, { VisibilityTimeout: '120' }, LOCAL_QUEUES.jobsMaxReceives);
  return { eventsUrl: events.url, eventsDeadLetterUrl: events.deadLetterUrl, jobsUrl: jobs.url, jobsDeadLetterUrl: jobs.deadLetterUrl };
}

async function queueWithDeadLetter(sqs: SQSClient, name: string, attributes: Record<string, string>, maxReceiveCount: number): Promise<{ url: string; deadLetterUrl: string }> {
  const deadLetterUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq` }))).QueueUrl!;
  const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: deadLetterUrl, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn;
  if (!arn) throw new Error(`local-queues: the SQS stand-in gave no QueueArn for ${name}-dlq`);
  const url = (
    await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: { ...attributes, RedrivePolicy: JSON.stringify({ deadLetterTargetArn: arn, maxReceiveCount }) } }))
  ).QueueUrl!;
  return { url, deadLetterUrl };
}
