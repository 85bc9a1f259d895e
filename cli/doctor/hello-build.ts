// The doctor's hello-world build: asked of the planner, then followed through the API until it
// ends, and its log read for the greeting.

import { HELLO_GREETING } from '../../core/doctor/hello.js';
import type { HelloObservation } from '../../core/doctor/judge.js';
import type { HelloAnswer } from '../../core/doctor/planner-probe.js';
import { isFinished } from '../../core/builds/status.js';
import type { BuildDetail } from '../../core/builds/types.js';
import type { ApiClient } from '../client.js';
import { askPlanner, type Target } from './target.js';

export async function helloBuild(target: Target, timeoutSeconds: number, progress: (line: string) => void): Promise<HelloObservation> {
  let answer: HelloAnswer;
  try {
    answer = (await askPlanner(target, { slipwayDoctor: 'hello' })) as HelloAnswer;
  } catch (err) {
    return { kind: 'invoke-failed', error: (err as Error).message };
  }
  if (answer.kind !== 'planned') return answer;
  progress(`waiting for ${answer.repo} #${answer.number} (up to ${timeoutSeconds} s)…`);
  const started = Date.now();
  let detail: BuildDetail | undefined;
  let lastStatus = '';
  while (Date.now() - started < timeoutSeconds * 1000) {
    detail = await target.api.build(answer.repo, answer.number);
    const status = detail.status;
    if (status !== lastStatus) progress(`  ${answer.repo} #${answer.number}: ${(lastStatus = status)}`);
    if (isFinished(status)) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  const seconds = Math.round((Date.now() - started) / 1000);
  if (!detail) return { kind: 'timed-out', answer, status: 'pending', seconds, messages: [] };
  const messages = [detail.error, ...detail.stages.filter((s) => s.status !== 'success').map((s) => (s.message ? `${s.name}: ${s.message}` : undefined))].filter((m): m is string => Boolean(m));
  if (!isFinished(detail.status)) return { kind: 'timed-out', answer, status: detail.status, seconds, messages };
  if (detail.status !== 'success') return { kind: 'finished', answer, status: detail.status, seconds, messages };
  const log = await saysHello(target.api, answer, detail);
  return { kind: 'finished', answer, status: detail.status, seconds, messages: 'unread' in log ? [log.unread] : messages, ...('greeted' in log ? { greeted: log.greeted } : {}) };
}

/** Whether the hello step's log holds the greeting, or why the log could not be read. */
async function saysHello(api: ApiClient, answer: Extract<HelloAnswer, { kind: 'planned' }>, detail: BuildDetail): Promise<{ greeted: boolean } | { unread: string }> {
  const stage = detail.stages[0];
  const step = stage?.steps.find((s) => s.name === 'hello');
  if (!stage || !step) return { greeted: false };
  try {
    const page = await api.logs(answer.repo, answer.number, stage.number, step.number, { offset: 0 });
    return { greeted: page.lines.some((l) => l.text.includes(HELLO_GREETING)) };
  } catch (err) {
    // The build's success stands; a log that could not be read is said, not judged.
    return { unread: `its log could not be read: ${(err as Error).message}` };
  }
}
