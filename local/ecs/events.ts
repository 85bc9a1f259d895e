// "ECS Task State Change" delivery to local subscribers (the task-events handler).
// EventBridge delivers at least once and in no guaranteed order; consumers are tested
// against that by asking for duplicates and reordering here.
import type { TaskStateChangeEvent } from '../../core/builds/task-event.js';
import { seededRandom } from '../../core/util/seeded-random.js';

export type TaskEventListener = (event: TaskStateChangeEvent) => void | Promise<void>;

export interface EventDeliveryOptions {
  /** 0..1: chance that an event is delivered a second time. */
  duplicateProbability?: number;
  /** 0..1: chance that an event is held back and delivered after the next one. */
  reorderProbability?: number;
  /** Seed of the deterministic random choices above. */
  seed?: number;
}

export class TaskEventBus {
  private readonly listeners = new Set<TaskEventListener>();
  private readonly published: TaskStateChangeEvent[] = [];
  private queue: Promise<void> = Promise.resolve();
  private held: TaskStateChangeEvent | undefined;
  private heldTimer: NodeJS.Timeout | undefined;
  private random: () => number;
  /** Errors thrown by listeners: reported on stderr and kept for inspection. */
  readonly listenerErrors: unknown[] = [];

  constructor(private readonly options: EventDeliveryOptions = {}) {
    this.random = seededRandom(options.seed ?? 1);
  }

  subscribe(listener: TaskEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Every event in the order the tasks produced them (not the delivery order). */
  history(taskArn?: string): TaskStateChangeEvent[] {
    return this.published.filter((e) => taskArn === undefined || e.detail.taskArn === taskArn);
  }

  publish(event: TaskStateChangeEvent): void {
    this.published.push(event);
    const batch: TaskStateChangeEvent[] = [];
    const hold = this.random() < (this.options.reorderProbability ?? 0);
    if (hold && this.held === undefined) {
      this.held = event;
      // Never hold forever: the last event of a run still arrives.
      this.heldTimer = setTimeout(() => this.releaseHeld(), 100);
      return;
    }
    batch.push(event);
    if (this.random() < (this.options.duplicateProbability ?? 0)) batch.push(event);
    if (this.held !== undefined) {
      batch.push(this.held);
      this.held = undefined;
      clearTimeout(this.heldTimer);
    }
    this.deliver(batch);
  }

  /** Resolves once every event published so far has been handed to every listener. */
  async idle(): Promise<void> {
    this.releaseHeld();
    await this.queue;
  }

  private releaseHeld(): void {
    if (this.held === undefined) return;
    clearTimeout(this.heldTimer);
    const event = this.held;
    this.held = undefined;
    this.deliver([event]);
  }

  private deliver(events: TaskStateChangeEvent[]): void {
    this.queue = this.queue.then(async () => {
      for (const event of events) {
        for (const listener of [...this.listeners]) {
          try {
            // A copy each time: a consumer mutating its event must not change another's.
            await listener(structuredClone(event));
          } catch (error) {
            this.listenerErrors.push(error);
            console.error(`local-ecs: task state change listener failed on ${event.detail.taskArn} v${event.detail.version}:`, error);
          }
        }
      }
    });
  }
}

