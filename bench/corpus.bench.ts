// `npm run bench -- corpus`: how many docker pipelines of the corpus of real public
// `.drone.yml` files (test/fixtures/corpus) run on Slipway, and the top reasons the others
// do not (bench/lib/corpus.ts). `-- --all` after it lists every pipeline that does not run.
import { formatFigure, measureCorpus, readCorpus } from './lib/corpus.js';

const figure = measureCorpus(readCorpus());
console.log(formatFigure(figure, process.argv.includes('--all') ? Infinity : 15));
if (process.argv.includes('--all')) {
  for (const v of figure.verdicts.filter((x) => !x.runs)) console.log(`${v.file} ${v.pipeline}: ${v.detail}`);
}
