// Repositories: which ones Slipway builds, and their settings. Activating one (or rotating its
// secret) shows its webhook URL and its own secret once, to paste into the Git host. Each active
// repository's settings change in place through the API's update route (`slipway repo update`).
import {
  changedSettings,
  REPO_SETTING_DEFAULTS,
  REPO_SETTINGS,
  repoSettingsOf,
  type RepoActivationResponse,
  type RepoSetting,
  type RepoSettings,
  type RepoUpdateResponse,
} from '../../../core/builds/api.js';
import { REPO_VISIBILITIES, type Repository } from '../../../core/builds/types.js';
import { CAPACITY_PREFERENCES } from '../../../core/pipeline/capacity-preference.js';
import { HOOK_HOSTS } from '../../../core/scm/types.js';
import { api } from '../api.js';
import { escapeHtml } from '../format.js';

const LABELS: Record<RepoSetting, string> = {
  trusted: 'Trusted',
  capacity: 'Capacity',
  visibility: 'Visibility',
  pullThroughCache: 'Pull-through cache',
};

/** What each setting does, in the README's (and `slipway repo --help`'s) words. */
export const SETTING_HINTS: Record<RepoSetting, string> = {
  trusted:
    "may run on the deployment's EC2 capacity: privileged steps, the host's Docker socket, docker:dind (a build there is root on its instance); never for pull requests from forks",
  capacity: 'where its pipelines run unless their node: { capacity } says: warm (EC2 instances that keep images cached, for a trusted repository) or fargate',
  visibility: "private and internal repositories are cloned with the host's clone token; public ones anonymously",
  pullThroughCache: "its images go through the deployment's ECR pull-through cache; off: pulled as written (no SOCI copies either)",
};

/** Asked before a repository becomes trusted: what its pipelines may do then (README "EC2 capacity"). */
export function trustQuestion(slug: string): string {
  return (
    `Trust ${slug}? Its pipelines may then run on the deployment's EC2 capacity: privileged steps, the host's Docker socket, docker:dind. ` +
    `A build there is root on its instance, and a step on the instance's network can reach what the instance's role allows. ` +
    'Never for pull requests from forks. Applies to builds planned from now on.'
  );
}

/** A setting's value as text: `yes`/`no` for trust, `on`/`off` for the cache, the value otherwise. */
export function settingText(setting: RepoSetting, value: boolean | string | undefined): string {
  const shown = value ?? REPO_SETTING_DEFAULTS[setting];
  if (typeof shown !== 'boolean') return shown;
  if (setting === 'trusted') return shown ? 'yes' : 'no';
  return shown ? 'on' : 'off';
}

function options(values: readonly string[], selected: string): string {
  // A stored value outside the list (a record written past the API's checks) is shown as it is, not as the first option.
  const all = values.includes(selected) ? values : [...values, selected];
  return all.map((v) => `<option value="${escapeHtml(v)}"${v === selected ? ' selected' : ''}>${escapeHtml(v)}</option>`).join('');
}

/** The input of one setting, holding `value`; `attributes` names it (an id, a label). */
function settingInput(setting: RepoSetting, value: boolean | string, attributes: string): string {
  const common = `data-setting="${setting}" ${attributes} title="${escapeHtml(SETTING_HINTS[setting])}"`;
  if (typeof value === 'boolean') return `<input type="checkbox" ${common}${value ? ' checked' : ''}>`;
  const values: readonly string[] = setting === 'capacity' ? CAPACITY_PREFERENCES : REPO_VISIBILITIES;
  return `<select ${common}>${options(values, value)}</select>`;
}

/** The activation form: name, host, and every setting preselected as the API defaults it, each with its hint. */
export function activationForm(): string {
  const settings = REPO_SETTINGS.map((setting) => {
    const id = `r-${setting}`;
    return (
      `<label for="${id}">${LABELS[setting]}</label>` +
      `<span>${settingInput(setting, REPO_SETTING_DEFAULTS[setting], `id="${id}"`)}</span>` +
      `<span class="meta hint">${escapeHtml(SETTING_HINTS[setting])}</span>`
    );
  }).join('');
  return (
    `<form id="repo-add">` +
    `<div class="filters"><input id="r-slug" placeholder="owner/name" required aria-label="Repository (owner/name)"> ` +
    `<select id="r-host" aria-label="Git host">${HOOK_HOSTS.map((h) => `<option>${h}</option>`).join('')}</select></div>` +
    `<div class="repo-settings">${settings}</div>` +
    `<button>Activate</button></form>`
  );
}

export function repoRow(repo: Repository): string {
  const slug = escapeHtml(repo.slug);
  const state = !repo.active ? 'removed' : repo.activatedAt === undefined ? 'active, no secret (activate again)' : 'active';
  // A local directory (`slipway run`) is activated again by each run: the API refuses to change it.
  const changeable = repo.active && repo.scm !== 'local';
  const settings = repoSettingsOf(repo);
  const cells = REPO_SETTINGS.map((setting) =>
    changeable
      ? `<td>${settingInput(setting, settings[setting], `aria-label="${LABELS[setting]} of ${slug}"`)}</td>`
      : `<td>${escapeHtml(settingText(setting, settings[setting]))}</td>`,
  ).join('');
  const actions = changeable
    ? `<button data-action="save" data-repo="${slug}" disabled>Save settings</button> ` +
      `<button data-action="rotate" data-repo="${slug}">Rotate secret</button> <button data-action="remove" data-repo="${slug}">Remove</button>`
    : '';
  return (
    `<tr data-repo="${slug}"><td><a href="#/?repo=${encodeURIComponent(repo.slug)}">${slug}</a></td>` +
    `<td>${escapeHtml(repo.scm)}</td><td>${escapeHtml(state)}</td><td>${repo.counter}</td>${cells}<td class="actions">${actions}</td></tr>`
  );
}

/** The table's header: a setting's column says what it does when pointed at. */
export function repoTableHead(): string {
  const settings = REPO_SETTINGS.map((s) => `<th title="${escapeHtml(SETTING_HINTS[s])}">${LABELS[s]}</th>`).join('');
  return `<thead><tr><th>Repository</th><th>Host</th><th>State</th><th>Builds</th>${settings}<th></th></tr></thead>`;
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

/** Each setting the update named, before and after, as the API answered (and logged) it. */
export function updatedNotice(res: RepoUpdateResponse): string {
  const items = res.changes.map(({ setting, from, to }) => {
    const [before, after] = [settingText(setting, from), settingText(setting, to)];
    return `<li>${LABELS[setting]}: ${before === after ? `${escapeHtml(after)} (unchanged)` : `${escapeHtml(before)} → ${escapeHtml(after)}`}</li>`;
  });
  return (
    `<div class="card settings-notice"><h3>Settings of ${escapeHtml(res.repo.slug)}</h3><ul>${items.join('')}</ul>` +
    `<p class="meta">Builds planned from now on use these settings (a restart too); builds already planned keep theirs.</p></div>`
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

/** The settings the inputs under `scope` hold (the activation form, or one repository's row). */
function chosenSettings(scope: ParentNode, fallback: RepoSettings): RepoSettings {
  const chosen: RepoSettings = { ...fallback };
  for (const input of scope.querySelectorAll<HTMLInputElement | HTMLSelectElement>('[data-setting]')) {
    const setting = input.dataset.setting as RepoSetting;
    Object.assign(chosen, { [setting]: input instanceof HTMLInputElement && input.type === 'checkbox' ? input.checked : input.value });
  }
  return chosen;
}

export async function renderRepos(root: HTMLElement, signal: AbortSignal, known?: Repository): Promise<void> {
  const repos = withKnown((await api.repos()).repos, known);
  if (signal.aborted) return;
  const bySlug = new Map(repos.map((r) => [r.slug, r]));
  root.innerHTML =
    `<div id="repo-notice"></div>` +
    `<div class="card"><h1>Repositories</h1>${activationForm()}` +
    `<div class="table-wrap"><table id="repos">${repoTableHead()}` +
    `<tbody>${repos.map(repoRow).join('') || `<tr><td colspan="${5 + REPO_SETTINGS.length}" class="empty">No repositories yet: activate one above.</td></tr>`}</tbody></table></div></div>`;
  const notice = root.querySelector('#repo-notice') as HTMLElement;
  const show = (html: string) => {
    notice.innerHTML = html;
  };
  // The API's own words: why it refused (a bad value, a missing token, a removed repository).
  const fail = (err: unknown) => show(`<div class="error-banner">${escapeHtml((err as Error).message)}</div>`);
  const refresh = async (html: string, known: Repository) => {
    await renderRepos(root, signal, known);
    (root.querySelector('#repo-notice') as HTMLElement).innerHTML = html;
  };
  const form = root.querySelector('#repo-add') as HTMLFormElement;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const slug = (root.querySelector('#r-slug') as HTMLInputElement).value.trim();
    const host = (root.querySelector('#r-host') as HTMLSelectElement).value;
    const settings = chosenSettings(form, REPO_SETTING_DEFAULTS);
    if (settings.trusted && !confirm(trustQuestion(slug))) return;
    api.activateRepo(slug, host, settings).then((res) => refresh(secretNotice(res), res.repo), fail);
  });
  const table = root.querySelector('#repos') as HTMLElement;
  const pending = (row: HTMLElement) => {
    const repo = bySlug.get(row.dataset.repo ?? '');
    if (!repo) return undefined;
    const current = repoSettingsOf(repo);
    return { repo, patch: changedSettings(current, chosenSettings(row, current)) };
  };
  // Save is offered once a setting of its row differs from the record.
  table.addEventListener('change', (event) => {
    const row = (event.target as HTMLElement).closest('tr[data-repo]') as HTMLElement | null;
    const save = row?.querySelector('button[data-action="save"]') as HTMLButtonElement | null;
    const change = row && pending(row);
    if (save && change) save.disabled = Object.keys(change.patch).length === 0;
  });
  table.addEventListener('click', (event) => {
    const button = (event.target as HTMLElement).closest('button[data-action]') as HTMLButtonElement | null;
    const repo = button?.dataset.repo;
    if (!button || !repo) return;
    if (button.dataset.action === 'save') {
      const change = pending(button.closest('tr') as HTMLElement);
      if (!change || Object.keys(change.patch).length === 0) return;
      if (change.patch.trusted === true && !confirm(trustQuestion(repo))) return;
      api.updateRepo(repo, change.patch).then((res) => refresh(updatedNotice(res), res.repo), fail);
    } else if (button.dataset.action === 'rotate') {
      if (!confirm(`Replace the webhook secret of ${repo}? Its webhook fails until you paste the new one.`)) return;
      api.rotateRepoSecret(repo).then((res) => refresh(secretNotice(res), res.repo), fail);
    } else if (button.dataset.action === 'remove') {
      if (!confirm(`Stop building ${repo}? Its builds stay; its webhook secret is deleted.`)) return;
      api.removeRepo(repo).then((res) => refresh(`<div class="card"><p>${escapeHtml(repo)} removed: its webhooks run nothing now.</p></div>`, res.repo), fail);
    }
  });
}
