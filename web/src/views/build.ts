// One build: header, pipeline graph, stages with their steps, the selected step's log.
// Live while the build runs; a failed step is opened and its log shown from its end, where
// `set -e` stopped it.
import type { StagePhase } from '../../../core/builds/stage-timeline.js';
import type { BuildDetail, LogLine, StepRecord } from '../../../core/builds/types.js';
import { api, ApiRequestError } from '../api.js';
import { formatSeconds } from '../../../core/util/duration.js';
import { escapeHtml, formatClock, formatDuration } from '../format.js';
import { layoutStages, renderGraph } from '../graph.js';
import { costCard } from './cost.js';
import { hasRun, isFinished } from '../../../core/builds/status-rank.js';
import { shownStep } from '../../../core/builds/step-times.js';

const POLL_MS = 1000;

export interface Selection {
  stage: number;
  step: number;
}

/** Steps that ran to an end of their own or were stopped: they have a log worth opening. */

/**
 * The step to open first: the first failed one, else the running one, else the last one that
 * ran. A skipped step is never that last one, although a `when: status` step that was
 * skipped had its container started (it ran the gate that skipped it).
 * Only a build in which no step ran opens its first step (its header says why).
 */
export function defaultSelection(build: BuildDetail): Selection | undefined {
  const all = build.stages.flatMap((stage) => stage.steps.map((step) => ({ stage: stage.number, step })));
  const pick =
    all.find((s) => s.step.status === 'failure' || s.step.status === 'error') ??
    all.find((s) => s.step.status === 'running') ??
    [...all].reverse().find((s) => hasRun(s.step.status)) ??
    all[0];
  return pick ? { stage: pick.stage, step: pick.step.number } : undefined;
}

function stepLabel(step: StepRecord): string {
  return step.kind === 'service' ? `${step.name} (service)` : step.detached ? `${step.name} (detached)` : step.name;
}

/** How long a step ran; nothing for a skipped one, whose commands never ran (step-times.ts). */
function stepDuration(step: StepRecord, now: number): string {
  const span = shownStep(step);
  return formatDuration(span.startedAt, span.finishedAt, now);
}

/** A step in its stage's list; why it was skipped (or failed, or was stopped) beneath its name. */
export function stepItem(stageNumber: number, step: StepRecord, selected: boolean, now: number): string {
  return (
    `<div class="step${selected ? ' selected' : ''}" data-stage="${stageNumber}" data-step="${step.number}" data-status="${step.status}">` +
    `<span class="step-name"><span class="dot ${step.status}"></span>${escapeHtml(stepLabel(step))}</span>` +
    `<span class="meta">${stepDuration(step, now)}</span>` +
    (step.reason ? `<span class="meta step-reason">${escapeHtml(step.reason)}</span>` : '') +
    `</div>`
  );
}

/** Above the log: which step it is, its status, exit code and duration, and why it ended so. */
export function logHeader(step: StepRecord | undefined, now: number): string {
  if (!step) return '';
  const facts = [
    `<span class="status ${step.status}">${step.status}</span>`,
    step.exitCode !== undefined ? `<span class="exit-code">exit code ${step.exitCode}</span>` : '',
    `<span class="duration">${stepDuration(step, now) || (step.status === 'skipped' ? 'did not run' : 'not started')}</span>`,
  ].filter(Boolean);
  return (
    `<div class="log-head" id="log-head"><span class="log-step">${escapeHtml(stepLabel(step))}</span>${facts.join('')}</div>` +
    (step.reason ? `<div class="log-reason meta">${escapeHtml(step.reason)}</div>` : '')
  );
}

/** What the compiler noted about a stage (secrets withheld, steps packed …): muted, one per line. */
export function stageNotes(notes: readonly string[] | undefined): string {
  if (!notes?.length) return '';
  return `<ul class="notes">${notes.map((note) => `<li class="meta">${escapeHtml(note)}</li>`).join('')}</ul>`;
}

/**
 * Where an ended stage's time went: one bar per phase on one time axis from the push (the
 * control plane phase of a stage that started with the build) or the stage's queueing to its
 * task's end (phases overlap: images pull while the agent clones); the queued phase says why.
 */
export function stageTimeline(phases: readonly StagePhase[] | undefined): string {
  if (!phases?.length) return '';
  const start = Math.min(...phases.map((p) => p.from));
  const span = Math.max(1, Math.max(...phases.map((p) => p.to)) - start);
  const pct = (v: number) => `${((100 * v) / span).toFixed(2)}%`;
  const rows = phases
    .map(
      (p, i) =>
        // A split stage's segments, each under its own heading, in order.
        (p.segment !== undefined && p.segment !== phases[i - 1]?.segment ? `<span class="phase-segment meta">segment ${p.segment}</span>` : '') +
        `<span class="name">${escapeHtml(p.name)}</span>` +
        `<span class="track"><span class="bar p50" style="left:${pct(p.from - start)};width:${pct(p.to - p.from)}" title="${escapeHtml(p.name)} ${formatSeconds((p.to - p.from) / 1000)}"></span></span>` +
        `<span class="value">${formatSeconds((p.to - p.from) / 1000)}</span>` +
        // Why it waited, under its bar (a whole row of the grid).
        (p.note !== undefined ? `<span class="phase-note meta">${escapeHtml(p.note)}</span>` : ''),
    )
    .join('');
  return `<figure class="chart repo-bars timeline" role="img" aria-label="where the stage's time went"><div class="rows">${rows}</div></figure>`;
}

/** One stage: its status line, its message and notes beneath, its timeline once it ended, then its steps. */
export function stageBlock(stage: BuildDetail['stages'][number] & { phases?: StagePhase[] }, selection: Selection | undefined, now: number): string {
  return (
    `<div class="stage" data-stage="${stage.number}"><h3><span><span class="status ${stage.status}">${stage.status}</span> ${escapeHtml(stage.name)}</span>` +
    `<span class="meta">${formatDuration(stage.startedAt, stage.finishedAt, now)}</span></h3>` +
    // An errored pipeline's message is its FILE:LINE:COLUMN diagnostics, one per line.
    (stage.message ? `<div class="meta stage-message">${escapeHtml(stage.message)}</div>` : '') +
    stageNotes(stage.notes) +
    stageTimeline(stage.phases) +
    stage.steps.map((step) => stepItem(stage.number, step, selection?.stage === stage.number && selection.step === step.number, now)).join('') +
    `</div>`
  );
}

export function header(build: BuildDetail, now: number): string {
  const running = build.status === 'running' || build.status === 'pending';
  return (
    `<div class="card build-head"><div>` +
    `<h1><span class="status ${build.status}" id="build-status">${build.status}</span> ${escapeHtml(build.repo)} #${build.number}</h1>` +
    `<div class="meta">${escapeHtml(build.event)} · ${escapeHtml(build.branch || build.ref)} · ${escapeHtml(build.commit.slice(0, 8))} · ${escapeHtml(build.author)}</div>` +
    `<div>${escapeHtml(build.message.split('\n')[0] ?? '')}</div>` +
    `<div class="meta">${formatDuration(build.startedAt, build.finishedAt, now) || (running ? 'not started' : 'did not run')}</div>` +
    `</div><div class="actions">` +
    (running ? `<button id="cancel">Cancel</button>` : `<button id="restart">Restart</button>`) +
    `</div></div>` +
    (build.error ? `<div class="error-banner">${escapeHtml(build.error)}</div>` : '')
  );
}

/**
 * One log line, as the step wrote it: no line is marked by the words in it ("0 errors",
 * "error handling tests passed" are not failures); the step's status says whether it failed.
 */
export function logLine(line: LogLine, index: number): string {
  return `<div class="line"><span class="n">${index + 1}</span><span class="t">${formatClock(line.time)}</span><span class="x">${escapeHtml(line.text)}</span></div>`;
}

/** The steps and, when a step is open, its log; a build whose stages have no step shows no log. */
export function buildBody(build: BuildDetail, selection: Selection | undefined, now: number): string {
  const stages = build.stages.map((stage) => stageBlock(stage, selection, now)).join('');
  const step = build.stages.find((s) => s.number === selection?.stage)?.steps.find((s) => s.number === selection?.step);
  if (!step) return stages ? `<div class="card" id="stages">${stages}</div>` : '';
  return `<div class="layout"><div class="card" id="stages">${stages}</div><div class="log-panel">${logHeader(step, now)}<div class="log" id="log"></div></div></div>`;
}

export async function renderBuild(root: HTMLElement, repo: string, number: number, signal: AbortSignal): Promise<void> {
  let build = await api.build(repo, number);
  let selection = defaultSelection(build);
  // The log panel shows one step; `logGeneration` names which. A poll answered after the
  // selection changed belongs to another step and is dropped, never written to the panel.
  let logGeneration = 0;
  let logCursor: string | undefined;
  let logLines = 0;
  let openedAtEnd = false;
  let logComplete = false;
  let polling: { generation: number; done: Promise<void> } | undefined;

  const draw = () => {
    const now = Date.now();
    const graph = build.stages.length > 1 ? `<div class="card graph">${renderGraph(layoutStages(build.stages), escapeHtml)}</div>` : '';
    // The cost card keeps its open state across the redraws of a live build.
    const costOpen = (root.querySelector('#build-cost') as HTMLDetailsElement | null)?.open ?? false;
    root.innerHTML = `${header(build, now)}${costCard(build.cost)}${graph}${buildBody(build, selection, now)}`;
    if (costOpen) (root.querySelector('#build-cost') as HTMLDetailsElement | null)?.setAttribute('open', '');
    root.querySelector('#cancel')?.addEventListener('click', () => void api.cancel(repo, number).then(refresh));
    root.querySelector('#restart')?.addEventListener('click', () =>
      void api.restart(repo, number).then(({ build: next }) => (location.hash = `#/builds/${next.repo}/${next.number}`)),
    );
    root.querySelector('#stages')?.addEventListener('click', (event) => {
      const item = (event.target as HTMLElement).closest('.step') as HTMLElement | null;
      if (!item) return;
      selection = { stage: Number(item.dataset.stage), step: Number(item.dataset.step) };
      logGeneration++;
      logCursor = undefined;
      logLines = 0;
      openedAtEnd = false;
      logComplete = false;
      draw();
      void pollLog();
    });
  };

  const selectedStep = (): StepRecord | undefined =>
    build.stages.find((s) => s.number === selection?.stage)?.steps.find((s) => s.number === selection?.step);

  // One poll at a time per step: a second caller waits for the one under way.
  const pollLog = (): Promise<void> => {
    if (polling && polling.generation === logGeneration) return polling.done;
    const generation = logGeneration;
    const done = pollPages(generation).finally(() => {
      if (polling?.generation === generation) polling = undefined;
    });
    polling = { generation, done };
    return done;
  };

  const pollPages = async (generation: number): Promise<void> => {
    // While the API says more is readable now, read on (a few pages per tick).
    for (let page = 0; page < 3; page++) {
      if (!(await pollPage(generation))) return;
    }
  };

  /** Reads one page into the panel; true when the API has more to give at once. */
  const pollPage = async (generation: number): Promise<boolean> => {
    const wanted = selection;
    if (!wanted) return false;
    let page;
    try {
      page = await api.logs(repo, number, wanted.stage, wanted.step, logCursor);
    } catch (error) {
      // Throttled log reads (CloudWatch Logs' quota): the next tick asks again.
      if (error instanceof ApiRequestError && (error.status === 503 || error.status === 429)) return false;
      throw error;
    }
    if (signal.aborted || generation !== logGeneration) return false;
    // Looked up after the answer: a redraw may have replaced the panel meanwhile.
    const log = root.querySelector('#log') as HTMLElement | null;
    if (!log) return false;
    const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    log.insertAdjacentHTML('beforeend', page.lines.map((line, i) => logLine(line, logLines + i)).join(''));
    logLines += page.lines.length;
    logCursor = page.cursor;
    logComplete = page.complete;
    const step = selectedStep();
    if (!logLines && page.complete) {
      const none = step && step.startedAt === undefined && isFinished(step.status) ? '(did not run)' : '(no output)';
      log.innerHTML = `<div class="line"><span></span><span></span><span class="meta">${none}</span></div>`;
    }
    if (!openedAtEnd && step && (step.status === 'failure' || step.status === 'error') && page.complete) {
      // A failed step stopped at its last line: its script runs under `set -e` and echoes each
      // command before it (as Drone's, drone-runner-docker engine/compiler/shell/shell.go), so
      // the failing command and its output end the log. The panel opens there.
      log.scrollTop = log.scrollHeight;
      openedAtEnd = true;
    } else if (atBottom) {
      log.scrollTop = log.scrollHeight;
    }
    return page.more && !page.complete;
  };

  const refresh = async () => {
    build = await api.build(repo, number);
    if (signal.aborted) return;
    selection ??= defaultSelection(build);
    // The log read so far, and where the reader had scrolled it, survive the redraw.
    const before = root.querySelector('#log') as HTMLElement | null;
    const keepLog = before?.innerHTML ?? '';
    const keepScroll = before?.scrollTop ?? 0;
    draw();
    const log = root.querySelector('#log') as HTMLElement | null;
    if (log) {
      log.innerHTML = keepLog;
      log.scrollTop = keepScroll;
    }
  };

  draw();
  await pollLog();
  // Live: poll while anything is unfinished, then once more to collect the tail of the log.
  while (!signal.aborted && !(isFinished(build.status) && (logComplete || !selection))) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    if (signal.aborted) return;
    await refresh();
    await pollLog();
  }
}
