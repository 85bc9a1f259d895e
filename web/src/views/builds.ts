// The build history across repositories, newest first, filterable.
import type { Build, BuildStatus } from '../../../core/builds/types.js';
import { api } from '../api.js';
import { escapeHtml, formatAgo, formatDuration } from '../format.js';
import { BUILD_STATUSES } from '../../../core/builds/types.js';


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
  let cursor: string | undefined;
  const load = async () => {
    const page = await api.builds({ repo: repo || undefined, status: (status || undefined) as BuildStatus | undefined, limit: 50, cursor });
    if (signal.aborted) return;
    const now = Date.now();
    tbody.insertAdjacentHTML('beforeend', page.builds.map((b) => buildRow(b, now)).join(''));
    cursor = page.next;
    more.innerHTML = cursor ? '<button id="load-more">Load more</button>' : '';
    more.querySelector('#load-more')?.addEventListener('click', () => void load());
    if (!tbody.children.length) tbody.innerHTML = '<tr><td colspan="9" class="empty">No builds yet. Push to a repository whose webhook points here.</td></tr>';
  };
  await load();
}
