// Bundles the agent into one ES module, task-runner/dist/agent.mjs, for the image:
// `npx tsx task-runner/build.ts`. Only node built-ins remain external.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { build } from 'esbuild';

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

export async function bundleAgent(outfile = here('./dist/agent.mjs')): Promise<string> {
  const pkg = JSON.parse(readFileSync(here('../package.json'), 'utf8')) as { version: string };
  await build({
    entryPoints: [here('./main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    minify: false,
    sourcemap: false,
    legalComments: 'none',
    define: { __SLIPWAY_AGENT_VERSION__: JSON.stringify(pkg.version) },
    logLevel: 'warning',
  });
  return outfile;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const outfile = await bundleAgent(process.argv[2]);
  process.stdout.write(`${outfile}\n`);
}
