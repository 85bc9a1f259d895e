// Matching a request path against the routes of core/builds/api.ts (pure).

import { API_ROUTES } from '../../core/builds/api.js';

export type RouteName = keyof typeof API_ROUTES;

export interface RouteMatch {
  name: RouteName;
  params: Record<string, string>;
}

const COMPILED = (Object.entries(API_ROUTES) as [RouteName, string][]).map(([name, template]) => {
  const keys: string[] = [];
  const source = template
    .split('/')
    .map((part) => {
      const m = /^\{(\w+)\}$/.exec(part);
      if (!m) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      keys.push(m[1]!);
      return '([^/]+)';
    })
    .join('/');
  return { name, keys, pattern: new RegExp(`^${source}/?$`) };
});

/** The route a path names, with its decoded parameters; null when none does. */
export function matchRoute(path: string): RouteMatch | null {
  for (const route of COMPILED) {
    const m = route.pattern.exec(path);
    if (!m) continue;
    const params: Record<string, string> = {};
    try {
      route.keys.forEach((key, i) => (params[key] = decodeURIComponent(m[i + 1]!)));
    } catch (err) {
      // A malformed %-escape cannot name anything we store.
      if (err instanceof URIError) return null;
      throw err;
    }
    return { name: route.name, params };
  }
  return null;
}

/** Which methods each route answers. */
export const ROUTE_METHODS: Record<RouteName, 'GET' | 'POST'> = {
  repos: 'GET',
  repoActivate: 'POST',
  repoRotateSecret: 'POST',
  repoRemove: 'POST',
  repoUpdate: 'POST',
  appSecret: 'POST',
  builds: 'GET',
  build: 'GET',
  logs: 'GET',
  cancel: 'POST',
  restart: 'POST',
  repoBuild: 'GET',
  repoLogs: 'GET',
  repoCancel: 'POST',
  repoRestart: 'POST',
  metrics: 'GET',
  openapi: 'GET',
};
