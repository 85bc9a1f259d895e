// The build history across repositories, newest first, filterable.
import type { Build, BuildStatus } from '../../../core/builds/types.js';
import type { BuildListResponse } from '../../../core/builds/api.js';
import { ApiRequestError, api } from '../api.js';
import { escapeHtml, formatAgo, formatDuration } from '../format.js';
import { BUILD_STATUSES } from '../../../core/builds/types.js';


/** How often the list is read again while it is open. */
const LIST_REFRESH_MS = 5000;

export function buildHref(build: Pick<Build, 'repo' | 'number'>): string {
  return `#/builds/${build.repo}/${build.number}`;
}

export function buildRow(build: Build, now: number): string {
  return (
    `<tr class="build-row" data-href="${escapeHtml(buildHref(build))}">` +
    `<td><span class="status ${build.status}">${build.status}</span></td>` +
    `<td>${escapeHtml(build.repo)}</td>` +
    `<td><a href="${escapeHtml(buildHref(build))}">#${build.number}</a></td>` +
    `<td>${escapeHtml(build.event)}</td>` +
    `<td>${escapeHtml(build.branch)}</td>` +
    `<td class="message">${escapeHtml(build.message.split('\n')[0] ?? '')}</td>` +
    `<td>${escapeHtml(build.commit.slice(0, 8))}</td>` +
    `<td title="${new Date(build.createdAt).toISOString()}">${formatAgo(build.createdAt, now)}</td>` +
    `<td>${formatDuration(build.startedAt, build.finishedAt, now)}</td>` +
    `</tr>`
  );
}

/** The filters above the list, holding what the page's address asked for. */
export function filterBar(repo: string, status: string): string {
  return (
    `<div class="filters">` +
    `<input id="f-repo" placeholder="owner/name" value="${escapeHtml(repo)}">` +
    `<select id="f-status"><option value="">any status</option>${BUILD_STATUSES.map((s) => `<option${s === status ? ' selected' : ''}>${s}</option>`).join('')}</select>` +
    `</div>`
  );
}

export async function renderBuilds(root: HTMLElement, params: URLSearchParams, signal: AbortSignal): Promise<void> {
  const repo = params.get('repo') ?? '';
  const status = params.get('status') ?? '';
  root.innerHTML =
    filterBar(repo, status) +
    `<div class="card"><div class="table-wrap"><table id="builds"><thead><tr><th>Status</th><th>Repository</th><th>Build</th><th>Event</th><th>Branch</th><th>Message</th><th>Commit</th><th>Created</th><th>Duration</th></tr></thead><tbody></tbody></table></div>` +
    `<div class="more"></div></div>`;
  const applyFilters = () => {
    const next = new URLSearchParams();
    const r = (root.querySelector('#f-repo') as HTMLInputElement).value.trim();
    const s = (root.querySelector('#f-status') as HTMLSelectElement).value;
    if (r) next.set('repo', r);
    if (s) next.set('status', s);
    location.hash = `#/?${next.toString()}`;
  };
  root.querySelector('#f-repo')?.addEventListener('change', applyFilters);
  root.querySelector('#f-status')?.addEventListener('change', applyFilters);
  root.querySelector('#builds')?.addEventListener('click', (event) => {
    const row = (event.target as HTMLElement).closest('tr.build-row') as HTMLElement | null;
    if (row?.dataset.href) location.hash = row.dataset.href;
  });

  const tbody = root.querySelector('#builds tbody') as HTMLElement;
  const more = root.querySelector('.more') as HTMLElement;
  const query = { repo: repo || undefined, status: (status || undefined) as BuildStatus | undefined, limit: 50 };
  let cursor: string | undefined;
  let pages = 0;
  const show = (builds: Build[], append: boolean) => {
    const now = Date.now();
    const rows = builds.map((b) => buildRow(b, now)).join('');
    if (append) tbody.insertAdjacentHTML('beforeend', rows);
    else tbody.innerHTML = rows;
    more.innerHTML = cursor ? '<button id="load-more">Load more</button>' : '';
    more.querySelector('#load-more')?.addEventListener('click', () => void load());
    if (!tbody.children.length) tbody.innerHTML = '<tr><td colspan="9" class="empty">No builds yet. Push to a repository whose webhook points here.</td></tr>';
  };
  const load = async () => {
    const page = await api.builds({ ...query, cursor });
    if (signal.aborted) return;
    cursor = page.next;
    pages++;
    show(page.builds, true);
  };
  await load();
  // Live, as a build's page is: a new build and every status change appear without a reload.
  // The list of every repository's builds is an index read, which may lag a push for a moment
  // (DynamoDB's global secondary indexes are eventually consistent): the next refresh has it.
  // Once older pages are loaded, the list stays as the reader paged it.
  const stale = root.querySelector('.more') as HTMLElement;
  await keepListFresh({
    read: () => api.builds(query),
    show: (page) => {
      cursor = page.next;
      show(page.builds, false);
    },
    failed: (error) => {
      stale.querySelector('.stale')?.remove();
      if (error) stale.insertAdjacentHTML('afterbegin', `<div class="meta stale">Not refreshed: ${escapeHtml(error.message)}; trying again.</div>`);
    },
    firstPageOnly: () => pages === 1,
    wait: () => new Promise((resolve) => setTimeout(resolve, LIST_REFRESH_MS)),
    signal,
  });
}

/**
 * Reads the list's first page again after each `wait` while it is the only page shown and the
 * view is open. A read that fails leaves the list as it is, says so (`failed`) and is tried at
 * the next tick: a page left open for hours meets a dropped connection or a throttled API, and
 * one such answer must not replace the list with an error nor stop it being live. The API
 * asking for a sign-in (401) ends it, for the router to ask for the token.
 */
export async function keepListFresh(o: {
  read: () => Promise<BuildListResponse>;
  show: (page: BuildListResponse) => void;
  /** The last read's error, or undefined once a read succeeds again. */
  failed: (error: Error | undefined) => void;
  firstPageOnly: () => boolean;
  wait: () => Promise<unknown>;
  signal: AbortSignal;
}): Promise<void> {
  let failing = false;
  while (!o.signal.aborted && o.firstPageOnly()) {
    await o.wait();
    if (o.signal.aborted || !o.firstPageOnly()) return;
    let page: BuildListResponse;
    try {
      page = await o.read();
    } catch (error) {
      if (o.signal.aborted) return;
      if (error instanceof ApiRequestError && error.status === 401) throw error;
      failing = true;
      o.failed(error as Error);
      continue;
    }
    if (o.signal.aborted || !o.firstPageOnly()) return;
    if (failing) o.failed(undefined);
    failing = false;
    o.show(page);
  }
}
