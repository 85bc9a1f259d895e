// The dashboard's router: #/ (builds), #/builds/OWNER/NAME/N (one build), #/metrics.
import { escapeHtml } from './format.js';
import { renderBuild } from './views/build.js';
import { renderBuilds } from './views/builds.js';
import { renderMetrics } from './views/metrics.js';

const root = document.getElementById('app') as HTMLElement;
let current: AbortController | undefined;

async function route(): Promise<void> {
  current?.abort();
  const controller = new AbortController();
  current = controller;
  const [path = '/', query = ''] = location.hash.replace(/^#/, '').split('?');
  const params = new URLSearchParams(query);
  const build = /^\/builds\/([^/]+)\/([^/]+)\/(\d+)$/.exec(path);
  try {
    if (build) await renderBuild(root, `${decodeURIComponent(build[1] ?? '')}/${decodeURIComponent(build[2] ?? '')}`, Number(build[3]), controller.signal);
    else if (path === '/metrics') await renderMetrics(root, params, controller.signal);
    else await renderBuilds(root, params, controller.signal);
  } catch (error) {
    if (!controller.signal.aborted) root.innerHTML = `<div class="error-banner">${escapeHtml((error as Error).message)}</div>`;
  }
}

window.addEventListener('hashchange', () => void route());
void route();
