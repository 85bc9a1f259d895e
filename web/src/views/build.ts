// One build: header, pipeline graph, stages with their steps, the selected step's log.
// Live while the build runs; a failed step is opened and scrolled to its error.
import type { BuildDetail, LogLine, StepRecord } from '../../../core/builds/types.js';
import { api, ApiRequestError } from '../api.js';
import { escapeHtml, formatClock, formatDuration, looksLikeError } from '../format.js';
import { layoutStages, renderGraph } from '../graph.js';

const POLL_MS = 1000;
const FINISHED = new Set(['success', 'failure', 'killed', 'error', 'skipped']);

export interface Selection {
  stage: number;
  step: number;
}

/** The step to open first: the first failed one, else the running one, else the last that ran. */
export function defaultSelection(build: BuildDetail): Selection | undefined {
  const all = build.stages.flatMap((stage) => stage.steps.map((step) => ({ stage: stage.number, step })));
  const pick =
    all.find((s) => s.step.status === 'failure' || s.step.status === 'error') ??
    all.find((s) => s.step.status === 'running') ??
    [...all].reverse().find((s) => s.step.startedAt !== undefined) ??
    all[0];
  return pick ? { stage: pick.stage, step: pick.step.number } : undefined;
}

function stepItem(stageNumber: number, step: StepRecord, selected: boolean, now: number): string {
  const label = step.kind === 'service' ? `${step.name} (service)` : step.detached ? `${step.name} (detached)` : step.name;
  return (
    `<div class="step${selected ? ' selected' : ''}" data-stage="${stageNumber}" data-step="${step.number}" data-status="${step.status}">` +
    `<span><span class="dot ${step.status}"></span>${escapeHtml(label)}</span>` +
    `<span class="meta">${formatDuration(step.startedAt, step.finishedAt, now)}</span></div>`
  );
}

/** What the compiler noted about a stage (secrets withheld, steps packed …): muted, one per line. */
export function stageNotes(notes: readonly string[] | undefined): string {
  if (!notes?.length) return '';
  return `<ul class="notes">${notes.map((note) => `<li class="meta">${escapeHtml(note)}</li>`).join('')}</ul>`;
}

/** One stage: its status line, its message and notes beneath, then its steps. */
export function stageBlock(stage: BuildDetail['stages'][number], selection: Selection | undefined, now: number): string {
  return (
    `<div class="stage" data-stage="${stage.number}"><h3><span><span class="status ${stage.status}">${stage.status}</span> ${escapeHtml(stage.name)}</span>` +
    `<span class="meta">${formatDuration(stage.startedAt, stage.finishedAt, now)}</span></h3>` +
    // An errored pipeline's message is its FILE:LINE:COLUMN diagnostics, one per line.
    (stage.message ? `<div class="meta stage-message">${escapeHtml(stage.message)}</div>` : '') +
    stageNotes(stage.notes) +
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
    `<div class="meta">${formatDuration(build.startedAt, build.finishedAt, now) || 'not started'}</div>` +
    `</div><div class="actions">` +
    (running ? `<button id="cancel">Cancel</button>` : `<button id="restart">Restart</button>`) +
    `</div></div>` +
    (build.error ? `<div class="error-banner">${escapeHtml(build.error)}</div>` : '')
  );
}

export function logLine(line: LogLine, index: number): string {
  const cls = looksLikeError(line.text) ? 'line error' : 'line';
  return `<div class="${cls}"><span class="n">${index + 1}</span><span class="t">${formatClock(line.time)}</span><span>${escapeHtml(line.text)}</span></div>`;
}

export async function renderBuild(root: HTMLElement, repo: string, number: number, signal: AbortSignal): Promise<void> {
  let build = await api.build(repo, number);
  let selection = defaultSelection(build);
  // The log panel shows one step; `logGeneration` names which. A poll answered after the
  // selection changed belongs to another step and is dropped, never written to the panel.
  let logGeneration = 0;
  let logCursor: string | undefined;
  let logLines = 0;
  let scrolledToError = false;
  let logComplete = false;
  let polling: { generation: number; done: Promise<void> } | undefined;

  const draw = () => {
    const now = Date.now();
    const stages = build.stages.map((stage) => stageBlock(stage, selection, now)).join('');
    const graph = build.stages.length > 1 ? `<div class="card graph">${renderGraph(layoutStages(build.stages), escapeHtml)}</div>` : '';
    root.innerHTML = `${header(build, now)}${graph}<div class="layout"><div class="card" id="stages">${stages}</div><div><div class="log" id="log"></div></div></div>`;
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
      scrolledToError = false;
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
    if (!logLines && page.complete) log.innerHTML = '<div class="line"><span></span><span></span><span class="meta">(no output)</span></div>';
    const step = selectedStep();
    if (!scrolledToError && step && (step.status === 'failure' || step.status === 'error') && page.complete) {
      const errors = log.querySelectorAll('.line.error');
      const target = (errors[errors.length - 1] ?? log.lastElementChild) as HTMLElement | null;
      target?.scrollIntoView({ block: 'center' });
      scrolledToError = true;
    } else if (atBottom) {
      log.scrollTop = log.scrollHeight;
    }
    return page.more && !page.complete;
  };

  const refresh = async () => {
    build = await api.build(repo, number);
    if (signal.aborted) return;
    selection ??= defaultSelection(build);
    const keepLog = root.querySelector('#log')?.innerHTML ?? '';
    draw();
    const log = root.querySelector('#log') as HTMLElement;
    log.innerHTML = keepLog;
  };

  draw();
  await pollLog();
  // Live: poll while anything is unfinished, then once more to collect the tail of the log.
  while (!signal.aborted && !(FINISHED.has(build.status) && (logComplete || !selection))) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    if (signal.aborted) return;
    await refresh();
    await pollLog();
  }
}
