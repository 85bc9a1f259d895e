// The state of one container of a local task, as DescribeTasks, the metadata endpoint and
// the task state change events report it.
import type { ChildProcess } from 'node:child_process';
import type { ContainerDefinition } from '@aws-sdk/client-ecs';
import type { ContainerUser } from './container-user.js';

export type ContainerStatus = 'PENDING' | 'RUNNING' | 'STOPPED';
export type HealthStatus = 'HEALTHY' | 'UNHEALTHY' | 'UNKNOWN';

export interface ContainerState {
  /** The definition with RunTask's overrides applied (command, environment). */
  def: ContainerDefinition & { name: string; image: string };
  essential: boolean;
  containerArn: string;
  runtimeId: string;
  lastStatus: ContainerStatus;
  /** Set once a launch began, so the scheduler starts each container once. */
  launching: boolean;
  /** The process ran (it may have exited since). */
  everStarted: boolean;
  exitCode?: number;
  reason?: string;
  health: HealthStatus;
  healthSince?: Date;
  healthOutput?: string;
  healthExitCode?: number;
  createdAt: Date;
  /** Its image pull, which starts once its dependencies hold (see LocalTask.schedule). */
  pullStartedAt?: Date;
  pullStoppedAt?: Date;
  /** Its image is pulled, but its dependencies no longer held when it was to start: it waits for them again (LocalTask.pullThenLaunch). */
  pulled?: boolean;
  startedAt?: Date;
  finishedAt?: Date;
  process?: ChildProcess;
  /** Host directory private to this container (database files). */
  dataDir: string;
  /** The definition's environment merged with the overrides'. */
  environment: Record<string, string>;
  /** The container's secrets by variable name, fetched at task start. */
  secretValues?: Record<string, string>;
  /** Everything the process got (ECS's variables, secrets): health probes get it too. */
  runEnvironment?: Record<string, string>;
  /** Who its program runs as (the definition's `user`, else its image's USER): health probes too. */
  user?: ContainerUser;
  stopTimer?: NodeJS.Timeout;
  healthTimer?: NodeJS.Timeout;
}

/** Reason of a container that could not start, as ECS words it. */
export const CANNOT_START = 'CannotStartContainerError';
