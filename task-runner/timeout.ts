// The pipeline timeout. ECS has no task timeout of its own: the agent enforces it by
// stopping (its exit stops the task and every container in it).

import type { StopSwitch } from './signals.js';

/** Arms the deadline; returns a function that disarms it. */
export function armDeadline(stop: StopSwitch, timeoutMs: number, log: (message: string) => void, label: string): () => void {
  const timer = setTimeout(() => {
    if (stop.stop({ kind: 'timed-out' })) log(`pipeline timeout of ${label} reached: stopping`);
  }, timeoutMs);
  return () => clearTimeout(timer);
}
