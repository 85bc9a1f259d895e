// `npm run bench -- image-bytes`: the bytes a build task pulls before its first step.
// 1. Which pull-through cache rule (lib/pull-through-cache.ts) covers the corpus's images
//    (bench/lib/corpus-images.ts), each rule with its credentials given.
// 2. The agent image's compressed size for amd64 and arm64, from what task-runner/Dockerfile
//    puts in it (bench/lib/agent-image.ts: each part cited, measured or estimated), with the
//    agent bundle built and compressed now.
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { PULL_THROUGH_CACHE_RULES } from '../core/pipeline/pull-through-cache.js';
import { bundleAgent } from '../task-runner/build.js';
import { agentImageSize, type Arch } from './lib/agent-image.js';
import { readCorpus } from './lib/corpus.js';
import { corpusImages } from './lib/corpus-images.js';

const mb = (bytes: number) => (bytes < 100_000 ? `${(bytes / 1000).toFixed(1)} KB` : `${(bytes / 1_000_000).toFixed(1)} MB`);

const prefixes = Object.fromEntries(PULL_THROUGH_CACHE_RULES.map((r) => [r.domain, r.prefix]));
const ruleOf = new Map(PULL_THROUGH_CACHE_RULES.map((r) => [r.domain, r]));
const corpus = corpusImages(readCorpus(), { registry: '123456789012.dkr.ecr.eu-west-1.amazonaws.com', prefixes });
console.log(`corpus images (steps and services of docker pipelines): ${corpus.images}, through the cache with every rule: ${corpus.cached} (${((100 * corpus.cached) / corpus.images).toFixed(1)}%)`);
console.log('registry'.padEnd(28), 'images'.padStart(7), 'files'.padStart(6), 'cached'.padStart(7), ' rule');
for (const r of corpus.registries) {
  const rule = ruleOf.get(r.registry);
  const how = rule ? `${rule.prefix}${rule.credentials ? ` (needs ${rule.credentials})` : ' (no credentials)'}` : 'none: pulled as written';
  console.log(r.registry.padEnd(28), String(r.images).padStart(7), String(r.files).padStart(6), String(r.cached).padStart(7), ` ${how}`);
}
for (const rule of PULL_THROUGH_CACHE_RULES.filter((x) => !corpus.registries.some((r) => r.registry === x.domain))) {
  console.log(rule.domain.padEnd(28), '0'.padStart(7), '0'.padStart(6), '0'.padStart(7), ` ${rule.prefix}: no corpus image names it`);
}

const dir = mkdtempSync(join(tmpdir(), 'slipway-agent-size-'));
try {
  const bundle = readFileSync(await bundleAgent(join(dir, 'agent.mjs')));
  const bundleGzip = gzipSync(bundle, { level: 6 }).length;
  const dockerfile = readFileSync(fileURLToPath(new URL('../task-runner/Dockerfile', import.meta.url)), 'utf8');
  console.log(`\nagent image (task-runner/Dockerfile), compressed bytes a task pulls; bundle ${(bundle.length / 1000).toFixed(0)} KB, ${(bundleGzip / 1000).toFixed(0)} KB compressed`);
  for (const arch of ['amd64', 'arm64'] as Arch[]) {
    const size = agentImageSize(dockerfile, arch, bundleGzip);
    console.log(`  linux/${arch}: ${mb(size.total)} (of which ${mb(size.estimated)} estimated)`);
    for (const p of size.parts) console.log(`    ${p.name.padEnd(44)} ${mb(p.bytes).padStart(8)}  ${p.basis}: ${p.source}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log('\nTo confirm with a registry: `docker buildx imagetools inspect <agent image>` lists each layer\'s size.');
