// A converter task stopped (lambdas/autoscaler/index-image.ts started it): its report, read
// as the agent's is (its exit code and its last log line, agent-result.ts), goes into the SOCI
// store (core/images/soci.ts), so that the planner names the converted copy from the next build
// on. The line is believed only for the task the store's claim started (sociReportAccepted);
// a task that ended without one marks the claim failed, for a later event to try again.

import { SOCI_CONVERTER_CONTAINER, SOCI_CONVERTER_ENV, SOCI_REPORT_PREFIX, lastSociReport, sociReportAccepted, type SociIndexStore, type SociReport } from '../../core/images/soci.js';
import type { TaskStateChangeDetail } from '../../core/builds/task-event.js';
import type { LogTailReader } from '../../core/logs/log-reader.js';
import { logStreamName } from '../../core/pipeline/log-configuration.js';
import { readResultLine, type ResultLineOptions } from './result-line.js';

/** The converter's last lines: its report is the last one it writes. */
const TAIL_EVENTS = 20;

export interface SociResultDeps {
  store: Pick<SociIndexStore, 'get' | 'converted' | 'failed'>;
  logs?: LogTailReader;
  /** How the report line is read again while it is not there yet (result-line.ts defaults). */
  resultLine?: Omit<ResultLineOptions, 'tailEvents'>;
  now: () => number;
  log: (message: string, fields?: Record<string, unknown>) => void;
}

export type SociResult = { recorded: 'converted'; source: string; converted: string } | { recorded: 'failed'; source?: string; reason: string } | { recorded: 'nothing'; reason: string };

export async function recordSociResult(detail: TaskStateChangeDetail, deps: SociResultDeps): Promise<SociResult> {
  if (detail.lastStatus !== 'STOPPED') return { recorded: 'nothing', reason: `the converter task is ${detail.lastStatus}` };
  const container = detail.containers.find((c) => c.name === SOCI_CONVERTER_CONTAINER);
  // Its source digest, from the environment the task was started with (index-image.ts; the
  // event carries the task's overrides), for a task that said nothing. Without it the claim
  // stays `converting` until stale (SOCI_CLAIM_STALE_MS), then a later event claims it again.
  const started = detail.overrides?.containerOverrides?.find((o) => o.name === SOCI_CONVERTER_CONTAINER)?.environment?.find((e) => e.name === SOCI_CONVERTER_ENV.digest)?.value;
  const stream = logStreamName(SOCI_CONVERTER_CONTAINER, detail.taskArn);
  // A converter that succeeded wrote its report last, which CloudWatch Logs may show a moment
  // after ECS reports the task stopped: read again a few times (result-line.ts) before the claim
  // is failed and the copy it pushed is never named. A failed one's last line is read once.
  let lines: string[] = [];
  let report: SociReport | undefined;
  if (deps.logs && container?.exitCode === 0) {
    const read = await readResultLine(deps.logs, stream, lastSociReport, { line: SOCI_REPORT_PREFIX.trim(), stream: "the converter's log stream" }, { tailEvents: TAIL_EVENTS, ...deps.resultLine });
    lines = read.lines;
    if ('result' in read) report = read.result;
  } else if (deps.logs) {
    lines = (await deps.logs.tail(stream, TAIL_EVENTS)).map((e) => e.message);
  }
  if (report) {
    const record = await deps.store.get(report.source);
    if (!sociReportAccepted(report, record, detail.taskArn)) {
      deps.log('SOCI report not taken: no claim of this task for it', { taskArn: detail.taskArn, source: report.source, state: record?.state });
      return { recorded: 'nothing', reason: 'no claim of this task for the reported source' };
    }
    await deps.store.converted(report.source, report.converted, deps.now(), detail.taskArn);
    deps.log('SOCI-enabled copy recorded', { taskArn: detail.taskArn, ...report });
    return { recorded: 'converted', source: report.source, converted: report.converted };
  }
  const why = container?.exitCode !== undefined ? `the converter exited ${container.exitCode}` : `the task stopped: ${detail.stoppedReason ?? detail.stopCode ?? 'no reason given'}`;
  const lastLine = lines.filter((l) => l.trim() !== '').at(-1);
  const reason = `${why}${lastLine ? `; its last line: ${lastLine.slice(0, 200)}` : ''}`;
  if (!started) return { recorded: 'nothing', reason };
  // Only the claim this task holds is failed: a stale event of an earlier task leaves a later claim be.
  const record = await deps.store.get(started);
  if (record?.state !== 'converting' || record.taskArn !== detail.taskArn) return { recorded: 'nothing', reason: `${reason} (its claim has moved on)` };
  await deps.store.failed(started, reason, deps.now(), detail.taskArn);
  deps.log('SOCI conversion failed', { taskArn: detail.taskArn, source: started, reason });
  return { recorded: 'failed', source: started, reason };
}
