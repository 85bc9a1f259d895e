// `npm run bench -- cut-refusals`: the facts about the corpus pipelines (test/fixtures/corpus)
// that ECS's 10 containers stop and the cut into consecutive tasks refuses: containers, what
// keeps their services from a task of their own, services on one port, and the cut they would
// get if the service task saw the steps' files (bench/lib/cut-refusals.ts).
import { readCorpus } from './lib/corpus.js';
import { cutRefusals, formatRefusals } from './lib/cut-refusals.js';

console.log(formatRefusals(cutRefusals(readCorpus())));
