// The local Lambda runtime: runs the same handlers as AWS against the local stand-ins.
// - events queue → planner handler, in SQS-shaped batches: records it reports in
//   batchItemFailures stay on the queue and come back after their visibility timeout
//   (and go to the dead-letter queue after the queue's maxReceiveCount, as in AWS);
//   the others are deleted. After each batch the autoscaler is nudged, as the planner's
//   async invoke does in AWS.
// - autoscaler handler: on a short schedule and on nudges; one pass at a time (reserved
//   concurrency 1 in AWS), nudges during a pass coalesce into one more. Only every
//   `reconcileMs` is a scheduled pass a reconciling one (DescribeTasks of every running
//   stage, a read of every active stage): the quick ticks start queued work, which is
//   what local mode needs often; repairs can wait half a minute, as they wait a minute in
//   AWS (where every scheduled pass reconciles).
//   The autoscaler samples the jobs queue itself, so the jobs queue is not polled here.
// - ECS stand-in's task events → task-events handler; a STOPPED task nudges the autoscaler
//   (capacity freed, dependent stages queued). The handler reads the agent's result line
//   from the stand-in's log store, as it reads CloudWatch Logs in AWS.

import { DeleteMessageBatchCommand, type Message, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { TaskStateChangeEvent } from '../core/builds/task-event.js';
import { ENV } from '../core/config/lambda-env.js';

export type SqsBatchHandler = (event: SQSEvent) => Promise<SQSBatchResponse | void>;
export type AutoscalerHandler = (event: { nudge?: boolean; source?: string }) => Promise<unknown>;
export type TaskEventsHandler = (event: TaskStateChangeEvent) => Promise<unknown>;

export interface ControlPlaneOptions {
  /** Environment of the handlers (TABLE_NAME, EVENTS_QUEUE_URL, JOBS_QUEUE_URL, …): put in process.env. */
  env: Record<string, string>;
  /**
   * The ECS stand-in's event subscription, and where it keeps container logs: the
   * task-events handler reads the agent's result line there (CloudWatch Logs in AWS).
   */
  ecs: { onTaskStateChange(listener: (event: TaskStateChangeEvent) => void | Promise<void>): () => void; logsDir?: string };
  /** Milliseconds between scheduled autoscaler passes (default 10 s; AWS: 1 min). */
  scheduleMs?: number;
  /** Milliseconds between reconciling passes (default 30 s, at least scheduleMs; AWS: every scheduled pass). */
  reconcileMs?: number;
  /** Handlers; default: the modules in lambdas/. */
  handlers?: { planner?: SqsBatchHandler; autoscaler?: AutoscalerHandler; taskEvents?: TaskEventsHandler };
  /** Errors of handlers (they are retried as in AWS; this only reports them). Default: stderr. */
  onError?: (where: string, err: unknown) => void;
}

export interface ControlPlane {
  /** Asks for an autoscaler pass now. */
  nudge(): void;
  /** Resolves once no planner batch, task event or autoscaler pass is in progress or asked for. */
  idle(): Promise<void>;
  stats: { plannerBatches: number; plannerFailures: number; autoscalerPasses: number; reconcilingPasses: number; taskEvents: number };
  stop(): Promise<void>;
}

/** The planner compiles with this log group when BUILD_LOG_GROUP is unset (lambdas/planner/deps.ts). */
const DEFAULT_BUILD_LOG_GROUP = '/slipway/builds';

/** The real task-events handler, reading agent results from the stand-in's log store. */
async function localTaskEventsHandler(options: ControlPlaneOptions): Promise<TaskEventsHandler> {
  const { taskEventsHandler } = await import('../lambdas/task-events/handler.js');
  const logsDir = options.ecs.logsDir;
  // Never CloudWatch from here: without a log store, stages keep the generic message.
  if (logsDir === undefined) return taskEventsHandler(() => undefined);
  const { localLogReader } = await import('./log-reader.js');
  return taskEventsHandler(() => localLogReader(logsDir, process.env[ENV.buildLogGroup] || DEFAULT_BUILD_LOG_GROUP));
}

export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  Object.assign(process.env, options.env);
  const eventsQueueUrl = options.env[ENV.eventsQueueUrl] ?? process.env[ENV.eventsQueueUrl];
  if (!eventsQueueUrl) throw new Error(`control-plane: ${ENV.eventsQueueUrl} is not set`);
  const onError = options.onError ?? ((where, err) => console.error(`control-plane: ${where}: ${(err as Error)?.stack ?? err}`));
  const planner = options.handlers?.planner ?? ((await import('../lambdas/planner/handler.js' as string)) as { handler: SqsBatchHandler }).handler;
  const autoscaler = options.handlers?.autoscaler ?? (await import('../lambdas/autoscaler/handler.js')).handler;
  const taskEvents = options.handlers?.taskEvents ?? (await localTaskEventsHandler(options));
  // As lambdas/shared/clients.ts: fauxqs's queue URLs name hosts only the endpoint reaches.
  const sqs = new SQSClient({ useQueueUrlAsEndpoint: false });
  const stats = { plannerBatches: 0, plannerFailures: 0, autoscalerPasses: 0, reconcilingPasses: 0, taskEvents: 0 };
  let stopped = false;
  const inFlight = new Set<Promise<unknown>>();
  const track = <T>(p: Promise<T>): Promise<T> => {
    inFlight.add(p);
    // The caller holds p and sees its rejection; this derived promise only tracks it.
    void p.finally(() => inFlight.delete(p)).catch(() => undefined);
    return p;
  };

  // Autoscaler: serialized passes; a nudge during a pass asks for exactly one more.
  let passing: Promise<void> | undefined;
  let again: 'nudge' | 'schedule' | undefined;
  const runAutoscaler = (kind: 'nudge' | 'schedule'): void => {
    if (stopped) return;
    if (passing) {
      again = again === 'schedule' || kind === 'schedule' ? 'schedule' : 'nudge';
      return;
    }
    passing = track(
      (async () => {
        let next: 'nudge' | 'schedule' | undefined = kind;
        while (next && !stopped) {
          again = undefined;
          stats.autoscalerPasses++;
          if (next === 'schedule') stats.reconcilingPasses++;
          try {
            await autoscaler(next === 'schedule' ? { source: 'aws.events' } : { nudge: true });
          } catch (err) {
            onError('autoscaler', err);
          }
          next = again;
        }
        passing = undefined;
      })(),
    );
  };
  const scheduleMs = options.scheduleMs ?? 10_000;
  const reconcileMs = Math.max(scheduleMs, options.reconcileMs ?? 30_000);
  // The first tick reconciles: a restart may find stages a previous run left behind.
  let lastReconcile = -Infinity;
  const timer = setInterval(() => {
    const now = Date.now();
    if (now - lastReconcile >= reconcileMs) {
      lastReconcile = now;
      runAutoscaler('schedule');
    } else {
      runAutoscaler('nudge');
    }
  }, scheduleMs);

  const unsubscribe = options.ecs.onTaskStateChange(async (event) => {
    if (stopped) return;
    stats.taskEvents++;
    await track(
      (async () => {
        try {
          await taskEvents(event);
        } catch (err) {
          // EventBridge would retry; here the reconciler picks a lost stop up.
          onError('task-events', err);
        }
        if (event.detail.lastStatus === 'STOPPED') runAutoscaler('nudge');
      })(),
    );
  });

  // Events queue → planner.
  const poller = (async () => {
    while (!stopped) {
      let messages: Message[] = [];
      try {
        const res = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: eventsQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageSystemAttributeNames: ['All'] }),
        );
        messages = res.Messages ?? [];
      } catch (err) {
        if (stopped) break;
        onError('events queue', err);
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      if (messages.length === 0 || stopped) continue;
      await track(invokePlanner(messages));
    }
  })();

  async function invokePlanner(messages: Message[]): Promise<void> {
    stats.plannerBatches++;
    const event: SQSEvent = {
      Records: messages.map((m) => ({
        messageId: m.MessageId!,
        receiptHandle: m.ReceiptHandle!,
        body: m.Body ?? '',
        attributes: {
          ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? '1',
          SentTimestamp: m.Attributes?.SentTimestamp ?? String(Date.now()),
          SenderId: m.Attributes?.SenderId ?? 'local',
          ApproximateFirstReceiveTimestamp: m.Attributes?.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
        },
        messageAttributes: {},
        md5OfBody: m.MD5OfBody ?? '',
        eventSource: 'aws:sqs',
        eventSourceARN: `arn:aws:sqs:${process.env.AWS_REGION ?? 'us-east-1'}:000000000000:${eventsQueueUrl!.split('/').pop()}`,
        awsRegion: process.env.AWS_REGION ?? 'us-east-1',
      })),
    };
    let failed = new Set<string>();
    try {
      const response = await planner(event);
      failed = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    } catch (err) {
      // A thrown handler fails the whole batch, as in AWS.
      onError('planner', err);
      failed = new Set(messages.map((m) => m.MessageId!));
    }
    stats.plannerFailures += failed.size;
    const done = messages.filter((m) => !failed.has(m.MessageId!));
    if (done.length > 0) {
      await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: eventsQueueUrl, Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }));
    }
    runAutoscaler('nudge');
  }

  return {
    nudge: () => runAutoscaler('nudge'),
    stats,
    async idle() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      unsubscribe();
      await poller;
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
      sqs.destroy();
    },
  };
}
