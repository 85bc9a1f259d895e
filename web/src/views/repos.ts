// Repositories: which ones Slipway builds. Activating one (or rotating its secret) shows
// its webhook URL and its own secret once, to paste into the Git host.
import type { RepoActivationResponse } from '../../../core/builds/api.js';
import type { Repository } from '../../../core/builds/types.js';
import { api } from '../api.js';
import { escapeHtml } from '../format.js';

const HOSTS = ['github', 'gitea', 'gitlab'];
const VISIBILITIES = ['private', 'internal', 'public'];

export function repoRow(repo: Repository): string {
  const visibility = repo.visibility ?? (repo.private ? 'private' : 'public');
  const state = !repo.active ? 'removed' : repo.activatedAt === undefined ? 'active, no secret (activate again)' : 'active';
  const actions =
    repo.active && repo.scm !== 'local'
      ? `<button data-action="rotate" data-repo="${escapeHtml(repo.slug)}">Rotate secret</button> <button data-action="remove" data-repo="${escapeHtml(repo.slug)}">Remove</button>`
      : '';
  return (
    `<tr><td><a href="#/?repo=${encodeURIComponent(repo.slug)}">${escapeHtml(repo.slug)}</a></td>` +
    `<td>${escapeHtml(repo.scm)}</td><td>${escapeHtml(visibility)}</td><td>${escapeHtml(state)}</td>` +
    `<td>${repo.counter}</td><td>${actions}</td></tr>`
  );
}

/** What to paste into the Git host, shown once. */
export function secretNotice(res: RepoActivationResponse): string {
  const url = res.webhook.url ?? `<this deployment's webhook URL>/${res.webhook.host}`;
  const field = res.webhook.host === 'gitlab' ? 'Secret token' : 'Secret';
  return (
    `<div class="card secret-notice"><h3>Webhook of ${escapeHtml(res.repo.slug)} on ${escapeHtml(res.webhook.host)}</h3>` +
    `<p class="meta">Paste these into the repository's webhook settings. The secret is shown only now.</p>` +
    `<dl><dt>URL</dt><dd><code>${escapeHtml(url)}</code></dd>` +
    `<dt>${field}</dt><dd><code class="secret">${escapeHtml(res.webhook.secret)}</code></dd>` +
    `<dt>Content type</dt><dd><code>application/json</code></dd></dl></div>`
  );
}

/**
 * The list with `known` (the record an activation, rotation or removal just answered) in
 * place of what the list says of it: the list is read from an index that may lag behind
 * that write for a moment (DynamoDB GSIs are eventually consistent), the answer does not.
 */
export function withKnown(repos: Repository[], known: Repository | undefined): Repository[] {
  if (!known) return repos;
  return [...repos.filter((r) => r.slug !== known.slug), known].sort((a, b) => (a.slug < b.slug ? -1 : a.slug > b.slug ? 1 : 0));
}

export async function renderRepos(root: HTMLElement, signal: AbortSignal, known?: Repository): Promise<void> {
  const repos = withKnown((await api.repos()).repos, known);
  if (signal.aborted) return;
  root.innerHTML =
    `<div id="repo-notice"></div>` +
    `<div class="card"><h1>Repositories</h1>` +
    `<form id="repo-add" class="filters">` +
    `<input id="r-slug" placeholder="owner/name" required> ` +
    `<select id="r-host">${HOSTS.map((h) => `<option>${h}</option>`).join('')}</select> ` +
    `<select id="r-visibility">${VISIBILITIES.map((v) => `<option>${v}</option>`).join('')}</select> ` +
    `<button>Activate</button></form>` +
    `<div class="table-wrap"><table id="repos"><thead><tr><th>Repository</th><th>Host</th><th>Visibility</th><th>State</th><th>Builds</th><th></th></tr></thead>` +
    `<tbody>${repos.map(repoRow).join('') || '<tr><td colspan="6" class="empty">No repositories yet: activate one above.</td></tr>'}</tbody></table></div></div>`;
  const notice = root.querySelector('#repo-notice') as HTMLElement;
  const show = (html: string) => {
    notice.innerHTML = html;
  };
  const fail = (err: unknown) => show(`<div class="error-banner">${escapeHtml((err as Error).message)}</div>`);
  const refresh = async (html: string, known: Repository) => {
    await renderRepos(root, signal, known);
    (root.querySelector('#repo-notice') as HTMLElement).innerHTML = html;
  };
  root.querySelector('#repo-add')?.addEventListener('submit', (event) => {
    event.preventDefault();
    const slug = (root.querySelector('#r-slug') as HTMLInputElement).value.trim();
    const host = (root.querySelector('#r-host') as HTMLSelectElement).value;
    const visibility = (root.querySelector('#r-visibility') as HTMLSelectElement).value;
    api.activateRepo(slug, host, visibility).then((res) => refresh(secretNotice(res), res.repo), fail);
  });
  root.querySelector('#repos')?.addEventListener('click', (event) => {
    const button = (event.target as HTMLElement).closest('button[data-action]') as HTMLButtonElement | null;
    const repo = button?.dataset.repo;
    if (!button || !repo) return;
    if (button.dataset.action === 'rotate') {
      if (!confirm(`Replace the webhook secret of ${repo}? Its webhook fails until you paste the new one.`)) return;
      api.rotateRepoSecret(repo).then((res) => refresh(secretNotice(res), res.repo), fail);
    } else if (button.dataset.action === 'remove') {
      if (!confirm(`Stop building ${repo}? Its builds stay; its webhook secret is deleted.`)) return;
      api.removeRepo(repo).then((res) => refresh(`<div class="card"><p>${escapeHtml(repo)} removed: its webhooks run nothing now.</p></div>`, res.repo), fail);
    }
  });
}
