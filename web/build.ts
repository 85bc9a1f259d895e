// Builds the dashboard into web/dist: one minified ES module plus the static files.
// Used by the local server at start, by the CDK app before synth, and by tests.
import { buildSync } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const WEB_DIR = dirname(fileURLToPath(import.meta.url));
export const WEB_DIST = join(WEB_DIR, 'dist');

export function buildDashboard(outDir: string = WEB_DIST): string {
  mkdirSync(outDir, { recursive: true });
  buildSync({
    entryPoints: [join(WEB_DIR, 'src', 'app.ts')],
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2022'],
    outfile: join(outDir, 'app.js'),
    logLevel: 'error',
  });
  for (const file of ['index.html', 'style.css']) copyFileSync(join(WEB_DIR, file), join(outDir, file));
  return outDir;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(`dashboard built in ${buildDashboard()}`);
}
