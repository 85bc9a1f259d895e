// The agent's version: set by the bundle (build.ts defines it from package.json); when
// run from source, read from package.json beside the sources.

import { readFileSync } from 'node:fs';

declare const __SLIPWAY_AGENT_VERSION__: string | undefined;

export function agentVersion(): string {
  if (typeof __SLIPWAY_AGENT_VERSION__ === 'string') return __SLIPWAY_AGENT_VERSION__;
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}
