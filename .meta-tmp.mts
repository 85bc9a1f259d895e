import * as esbuild from 'esbuild';
import { esbuildOptions } from './lib/bundling.ts';
const r = await esbuild.build({ ...esbuildOptions(process.argv[2]!, '/tmp/cp-out/index.mjs'), metafile: true });
const sizes = new Map<string, number>();
for (const [path, info] of Object.entries(r.metafile!.outputs)) {
  for (const [inp, v] of Object.entries(info.inputs)) {
    const m = inp.match(/node_modules\/((@[^/]+\/)?[^/]+)/);
    const k = m ? m[1]! : inp.split('/').slice(0, 2).join('/');
    sizes.set(k, (sizes.get(k) ?? 0) + v.bytesInOutput);
  }
}
for (const [k, v] of [...sizes].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log((v / 1024).toFixed(1).padStart(7), k);
