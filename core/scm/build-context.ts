// A webhook's BuildHook plus what the control plane decides (number, time, link) → the
// BuildContext that conditions, the environment and the agent read.

import type { BuildContext } from '../pipeline/context.js';
import type { BuildHook } from './types.js';

export interface BuildFacts {
  number: number;
  /** Epoch milliseconds. */
  createdAt: number;
  link: string;
  system: BuildContext['system'];
  /** The build number a restart restarts (DRONE_BUILD_PARENT). */
  parent?: number;
}

export function buildContextOf(hook: BuildHook, facts: BuildFacts): BuildContext {
  const ctx: BuildContext = {
    repo: hook.repo,
    commit: hook.commit,
    build: {
      number: facts.number,
      event: hook.event,
      action: hook.action,
      created: Math.floor(facts.createdAt / 1000),
      link: facts.link,
      trigger: hook.sender ? hook.sender : '@hook',
      ...(facts.parent !== undefined ? { parent: facts.parent } : {}),
    },
    system: facts.system,
  };
  if (hook.pullRequest) ctx.pullRequest = hook.pullRequest;
  if (hook.tag) ctx.tag = hook.tag;
  if (hook.changedFiles) ctx.changedFiles = hook.changedFiles;
  return ctx;
}
