// Property tests: whatever the input, loadManifest returns (never throws) and every
// diagnostic points at a real place in the file.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import { isValid, loadManifest, loadManifestBytes } from '../../core/pipeline/load.js';
import type { Manifest } from '../../core/pipeline/types.js';

const VALID = `kind: pipeline
type: docker
name: test
platform: { os: linux, arch: arm64 }
workspace: { path: /go/src/app }
clone: { depth: 10 }
trigger:
  branch: { include: [main, release/*], exclude: [wip] }
  event: [push, pull_request]
volumes:
- name: cache
  temp: {}
services:
- name: db
  image: postgres:15
  environment: { POSTGRES_PASSWORD: pw }
  ready: { command: pg_isready, timeout: 30 }
- name: cache
  image: redis
steps:
- name: build
  image: golang:1.22
  commands: [go build ./...]
  volumes: [{ name: cache, path: /root/.cache }]
- name: test
  image: golang:1.22
  depends_on: [build]
  environment:
    DB: postgres://db:5432
    TOKEN: { from_secret: token }
  commands: [go test ./...]
  when: { status: [success, failure] }
- name: publish
  image: plugins/s3
  depends_on: [test]
  settings: { bucket: b, key: { from_secret: key }, list: [1, 2] }
  failure: ignore
---
kind: pipeline
name: deploy
depends_on: [test]
steps:
- name: deploy
  image: alpine
  commands: [echo deploy]
---
kind: secret
name: token
get: { path: ci/token, name: value }
`;

/** The invariants every result must keep (plain checks: this runs thousands of times). */
function checkManifest(text: string, m: Manifest): void {
  const fail = (why: string) => {
    throw new Error(`${why}\ninput: ${JSON.stringify(text).slice(0, 500)}\ndiagnostics: ${JSON.stringify(m.diagnostics)}`);
  };
  const lineCount = text.split(/\r\n|\r|\n/).length;
  for (const d of m.diagnostics) {
    if (!Number.isInteger(d.line) || d.line < 1 || d.line > lineCount + 1) fail(`bad line ${d.line}`);
    if (!Number.isInteger(d.column) || d.column < 1) fail(`bad column ${d.column}`);
    if (d.message.startsWith('internal error')) fail('internal error');
    if (d.file !== '.drone.yml') fail('wrong file');
  }
  if (isValid(m) === m.diagnostics.some((d) => d.severity === 'error')) fail('isValid disagrees with the diagnostics');
  if (!isValid(m)) return;
  if (m.pipelines.length + m.skipped.length === 0) fail('valid without pipelines');
  for (const p of m.pipelines) {
    for (const s of [...p.steps, ...p.services]) if (s.name === '' || s.image === '') fail('valid step without name or image');
  }
}

function loadAndCheck(text: string): Manifest {
  const m = loadManifest('.drone.yml', text);
  checkManifest(text, m);
  return m;
}

const RUNS = 200;

describe('loadManifest never throws', () => {
  it('the valid fixture is valid', () => {
    const m = loadAndCheck(VALID);
    expect(m.diagnostics).toEqual([]);
    expect(m.pipelines.map((p) => p.name)).toEqual(['test', 'deploy']);
  });

  it('on random strings', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (text) => void loadAndCheck(text)), { numRuns: RUNS });
  });

  it('on random YAML-looking text', () => {
    const token = fc.constantFrom('kind: pipeline\n', 'steps:\n', '- ', 'name: a\n', '  ', 'image: b\n', '[', ']', '{', '}', ':', ',', '&a ', '*a', '<<: ', '---\n', '"', "'", '|\n', '>\n', '#', '\t', '\n', '? ', '!!str ', 'depends_on: [a]\n', 'when:\n', 'from_secret: x');
    fc.assert(fc.property(fc.array(token, { maxLength: 60 }), (tokens) => void loadAndCheck(tokens.join(''))), { numRuns: RUNS });
  });

  it('on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const m = loadManifestBytes('.drone.yml', bytes);
        for (const d of m.diagnostics) {
          if (d.line < 1 || d.column < 1 || d.message.startsWith('internal error')) throw new Error(JSON.stringify(d));
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('on random data serialised as YAML', () => {
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 5 }), (value) => void loadAndCheck(stringify(value))), { numRuns: RUNS });
  });

  it('on random pipeline-shaped documents', () => {
    const value = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom('a', 'build', 'clone', 'postgres', 'from_secret'));
    const keys = ['name', 'image', 'commands', 'depends_on', 'environment', 'settings', 'when', 'detach', 'ready', 'volumes', 'privileged', 'failure', 'pull', 'resources'];
    const step = fc.dictionary(fc.constantFrom(...keys), value, { maxKeys: 8 });
    const pipeline = fc.record(
      {
        kind: fc.constantFrom('pipeline', 'secret', 'signature', 'other'),
        type: fc.constantFrom('docker', 'exec', undefined),
        name: fc.constantFrom('a', 'b', 'default'),
        depends_on: fc.array(fc.constantFrom('a', 'b', 'c'), { maxLength: 3 }),
        steps: fc.array(step, { maxLength: 5 }),
        services: fc.array(step, { maxLength: 3 }),
        trigger: fc.dictionary(fc.constantFrom('branch', 'event', 'ref', 'status', 'paths', 'bogus'), value, { maxKeys: 3 }),
        volumes: value,
        platform: value,
        clone: value,
      },
      { requiredKeys: ['kind'] },
    );
    fc.assert(
      fc.property(fc.array(pipeline, { minLength: 1, maxLength: 3 }), (docs) => {
        void loadAndCheck(docs.map((d) => stringify(d)).join('---\n'));
      }),
      { numRuns: RUNS },
    );
  });
});

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Every path to a node of a plain value. */
function paths(value: Json, prefix: (string | number)[] = []): (string | number)[][] {
  const out = [prefix];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...paths(v, [...prefix, i])));
  else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...prefix, k]));
  return out;
}

function parentOf(root: Json, path: (string | number)[]): Json | undefined {
  let node: Json | undefined = root;
  for (const key of path.slice(0, -1)) node = (node as Record<string | number, Json>)[key];
  return node;
}

type Mutation = { op: 'delete' | 'retype' | 'duplicate' | 'rename'; at: number; value: Json };

function mutate(root: Json, mutations: Mutation[]): Json {
  for (const m of mutations) {
    const all = paths(root).filter((p) => p.length > 0);
    if (all.length === 0) return root;
    const path = all[m.at % all.length]!;
    const parent = parentOf(root, path) as Record<string | number, Json> | Json[];
    const key = path[path.length - 1]!;
    if (Array.isArray(parent)) {
      const i = key as number;
      if (m.op === 'delete') parent.splice(i, 1);
      else if (m.op === 'duplicate') parent.splice(i, 0, structuredClone(parent[i]!));
      else parent[i] = m.value;
    } else {
      const k = key as string;
      if (m.op === 'delete') delete parent[k];
      else if (m.op === 'rename') {
        parent[`${k}x`] = parent[k]!;
        delete parent[k];
      } else if (m.op === 'duplicate') parent[`${k}`] = structuredClone(parent[k]!);
      else parent[k] = m.value;
    }
  }
  return root;
}

describe('loadManifest never throws on mutations of a valid file', () => {
  const documents = VALID.split('---\n').map((d) => parseYaml(d) as Json);
  const mutation = fc.record({
    op: fc.constantFrom<Mutation['op']>('delete', 'retype', 'duplicate', 'rename'),
    at: fc.nat(),
    value: fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>,
  });

  it('deleting, retyping, duplicating and renaming keys', () => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.nat(documents.length - 1), (mutations, which) => {
        const docs = structuredClone(documents);
        docs[which] = mutate(docs[which]!, mutations);
        void loadAndCheck(docs.map((d) => stringify(d)).join('---\n'));
      }),
      { numRuns: RUNS },
    );
  });

  it('editing the text itself', () => {
    const edit = fc.record({ at: fc.nat(VALID.length), remove: fc.nat(8), insert: fc.string({ maxLength: 6 }) });
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 5 }), (edits) => {
        let text = VALID;
        for (const e of edits) text = text.slice(0, e.at) + e.insert + text.slice(e.at + e.remove);
        void loadAndCheck(text);
      }),
      { numRuns: RUNS },
    );
  });

  it('duplicating a line', () => {
    const all = VALID.split('\n');
    fc.assert(
      fc.property(fc.nat(all.length - 1), (i) => {
        const copy = [...all];
        copy.splice(i, 0, all[i]!);
        void loadAndCheck(copy.join('\n'));
      }),
      { numRuns: 100 },
    );
  });
});
