// What the agent knows about one sibling container, whatever the source (the task
// metadata endpoint, a step's exit file). Plain data: the decisions read only this.

export type ContainerPhase = 'pending' | 'running' | 'stopped';

/** ECS health status of a container with a health check. */
export type HealthStatus = 'HEALTHY' | 'UNHEALTHY' | 'UNKNOWN';

export interface ContainerView {
  phase: ContainerPhase;
  /** Set once the container has stopped, when ECS knows it. */
  exitCode: number | null;
  startedAt?: string;
  finishedAt?: string;
  /** Absent when the endpoint reports no health for the container. */
  health?: HealthStatus;
  healthOutput?: string;
}

/** A step's own record of its end, written by its wrapper into the step record dir. */
export interface ExitRecord {
  exitCode: number;
  /** When the file was written (ISO-8601), if known. */
  at?: string;
  /** The step's status gate decided not to run it (`<container>.skipped` beside the exit file). */
  skipped?: boolean;
}
