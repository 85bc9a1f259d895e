// The dashboard's router: #/ (builds), #/builds/OWNER/NAME/N (one build), #/metrics, #/repos.
import { ApiRequestError, TOKEN_KEY } from './api.js';
import { escapeHtml } from './format.js';
import { renderBuild } from './views/build.js';
import { renderBuilds } from './views/builds.js';
import { renderMetrics } from './views/metrics.js';
import { renderRepos } from './views/repos.js';

const root = document.getElementById('app') as HTMLElement;
let current: AbortController | undefined;

async function route(): Promise<void> {
  current?.abort();
  const controller = new AbortController();
  current = controller;
  const [path = '/', query = ''] = location.hash.replace(/^#/, '').split('?');
  const params = new URLSearchParams(query);
  const build = /^\/builds\/(.+)\/(\d+)$/.exec(path);
  try {
    if (build) await renderBuild(root, decodeURIComponent(build[1] ?? ''), Number(build[2]), controller.signal);
    else if (path === '/metrics') await renderMetrics(root, params, controller.signal);
    else if (path === '/repos') await renderRepos(root, controller.signal);
    else await renderBuilds(root, params, controller.signal);
  } catch (error) {
    if (controller.signal.aborted) return;
    if (error instanceof ApiRequestError && error.status === 401) askForToken();
    else root.innerHTML = `<div class="error-banner">${escapeHtml((error as Error).message)}</div>`;
  }
}

// A deployed API refuses anonymous requests: ask once for the token and keep it in this browser.
function askForToken(): void {
  root.innerHTML =
    `<div class="card"><h1>Sign in</h1><p class="meta">This Slipway needs its API token (see docs/api.md).</p>` +
    `<form id="token-form"><input id="token" type="password" autocomplete="current-password" placeholder="API token" size="48"> <button>Save</button></form></div>`;
  root.querySelector('#token-form')?.addEventListener('submit', (event) => {
    event.preventDefault();
    const token = (root.querySelector('#token') as HTMLInputElement).value.trim();
    if (token) localStorage.setItem(TOKEN_KEY, token);
    void route();
  });
}

window.addEventListener('hashchange', () => void route());
void route();
