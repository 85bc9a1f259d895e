// YAML documents → typed pipelines with Drone's defaults applied. This file checks shape
// (types, required keys, allowed values, unknown keys); lint.ts checks meaning
// (references, cycles, what Fargate cannot do). Every problem becomes a diagnostic and
// parsing goes on, so one run reports everything that is wrong.

import { closest } from './format.js';
import { knownImagePorts } from './known-images.js';
import type { SourceDocument, SourceMap, SourceNode } from './yaml-source.js';
import {
  DEFAULT_TIMEOUT_MINUTES,
  DEFAULT_WORKSPACE,
  type Arch,
  type CloneSettings,
  type Condition,
  type Conditions,
  type ConditionField,
  type Diagnostic,
  type EnvValue,
  type FailurePolicy,
  type Pipeline,
  type Position,
  type PullPolicy,
  type Readiness,
  type SecretDocument,
  type SettingValue,
  type SkippedPipeline,
  type Step,
  type Volume,
  type VolumeMount,
} from './types.js';

/** A parsed pipeline with the YAML it came from, so lint can point at any key. */
export interface ParsedPipeline {
  pipeline: Pipeline;
  source: SourceMap;
  /** The YAML map of each entry of `pipeline.steps`, index for index. */
  stepSources: SourceMap[];
  /** The YAML map of each entry of `pipeline.services`, index for index. */
  serviceSources: SourceMap[];
  /** Its `trigger:` was read without error. */
  triggerSound: boolean;
}

export interface ParsedSecret {
  secret: SecretDocument;
  source: SourceMap;
}

export interface ParsedSkipped {
  skipped: SkippedPipeline;
  pos: Position;
}

export interface ParsedFile {
  pipelines: ParsedPipeline[];
  secrets: ParsedSecret[];
  skipped: ParsedSkipped[];
  diagnostics: Diagnostic[];
}

export const READY_DEFAULTS = { timeout: 60, interval: 5 } as const;
export const DEFAULT_PIPELINE_NAME = 'default';

export const CONDITION_FIELDS: readonly ConditionField[] = [
  'action', 'branch', 'cron', 'event', 'instance', 'paths', 'ref', 'repo', 'status', 'target',
];

export const PIPELINE_KEYS = [
  'kind', 'type', 'name', 'version', 'depends_on', 'clone', 'concurrency', 'node', 'platform', 'trigger',
  'environment', 'services', 'steps', 'volumes', 'image_pull_secrets', 'workspace', 'resources', 'timeout',
] as const;

/** Keys Drone's docker runner knows on steps that Fargate cannot honour; lint explains each. */
export const UNSUPPORTED_STEP_KEYS = [
  'devices', 'dns', 'dns_search', 'extra_hosts', 'network_mode', 'shm_size', 'mem_limit', 'memswap_limit',
] as const;

export const STEP_KEYS = [
  'name', 'image', 'pull', 'commands', 'entrypoint', 'command', 'environment', 'settings', 'depends_on',
  'detach', 'failure', 'when', 'volumes', 'privileged', 'user', 'working_dir', 'shell', 'ready', 'resources',
  'ports', ...UNSUPPORTED_STEP_KEYS,
] as const;

const STEP_KEY_HINTS: Record<string, string> = {
  healthcheck: 'a health command is ready: { command: "..." }',
  cpu: 'use resources: { cpu: ... }',
  memory: 'use resources: { memory: ... }',
  script: 'use commands: [...]',
};

/** Condition keys written in other CI systems' words. */
const CONDITION_HINTS: Record<string, string> = {
  tags: 'a tag build is event: tag, with ref: refs/tags/… to choose tags',
  only: 'use branch: / event: with include and exclude',
  except: 'use exclude: [...] inside the condition',
};

const PULL_POLICIES: readonly PullPolicy[] = ['always', 'never', 'if-not-exists', 'default'];
/**
 * The `failure:` values Drone reads (drone-runner-docker engine/compiler/step.go; runner-go
 * pipeline/runtime/const.go), case-insensitive as drone-yaml's compiler compares them.
 */
const FAILURE_VALUES: Readonly<Record<string, FailurePolicy>> = {
  always: 'always',
  fail: 'always',
  ignore: 'ignore',
  fast: 'fail-fast',
  'fast-fail': 'fail-fast',
  'fail-fast': 'fail-fast',
};
const OTHER_RUNNERS = ['kubernetes', 'exec', 'ssh', 'vm', 'digitalocean', 'macstadium', 'aws', 'windows', 'nomad'];

export function emptyCondition(): Condition {
  return { include: [], exclude: [] };
}

export function emptyConditions(): Conditions {
  return {
    action: emptyCondition(), branch: emptyCondition(), cron: emptyCondition(), event: emptyCondition(),
    instance: emptyCondition(), paths: emptyCondition(), ref: emptyCondition(), repo: emptyCondition(),
    status: emptyCondition(), target: emptyCondition(),
  };
}

/** Typed pipelines, secrets and skipped pipelines of a file's documents. */
export function parseDocuments(file: string, documents: readonly SourceDocument[]): ParsedFile {
  const r = new Reader(file);
  const out: ParsedFile = { pipelines: [], secrets: [], skipped: [], diagnostics: r.diagnostics };
  documents.forEach((doc) => {
    if (doc.root === null) return;
    if (doc.root.kind !== 'map') {
      r.error(doc.root.pos, `document: expected a map with kind: pipeline, got ${describe(doc.root)}`);
      return;
    }
    const root = doc.root;
    const kind = entry(root, 'kind');
    if (!kind) {
      // Drone 0.8 files have a top-level `pipeline:` map and no kind.
      const legacy = entry(root, 'pipeline') ? '; this looks like a Drone 0.8 file: convert it with `drone convert`' : '';
      r.error(root.pos, `document: missing "kind" (expected pipeline, secret or signature)${legacy}`);
      return;
    }
    const kindName = r.string(kind.value, 'kind');
    if (kindName === undefined) return;
    switch (kindName) {
      case 'pipeline':
        parsePipelineDocument(r, root, out);
        return;
      case 'secret': {
        const secret = parseSecret(r, root);
        if (secret) out.secrets.push({ secret, source: root });
        return;
      }
      case 'signature':
        return; // Drone's signature of the file: nothing to run
      default:
        if (kindName.toLowerCase() === 'pipeline') {
          parseMiscasedPipeline(r, root, kind.value.pos, kindName, out);
          return;
        }
        r.error(kind.value.pos, `kind: unknown kind "${kindName}" (expected pipeline, secret or signature)${miscased(kindName)}`);
    }
  });
  return out;
}

/** Drone compares kinds exactly: a hint when a known kind was written in another case. */
function miscased(kindName: string): string {
  const known = ['pipeline', 'secret', 'signature'].find((k) => k === kindName.toLowerCase());
  return known ? `; Drone matches kinds exactly, in lower case: write kind: ${known}` : '';
}

/**
 * `kind: Pipeline`: drone-yaml reads any unknown kind as a pipeline (yaml/parse.go parseRaw),
 * so Drone's server creates the stage; but its queue gives a stage only to a runner of the
 * exact kind (drone/drone scheduler/queue/queue.go matchResource: "pipeline" == "Pipeline" is
 * false) and the docker runner parses only `kind: pipeline` (drone-runner-docker
 * engine/resource/parser.go match), so the stage never runs. Here it is that pipeline's error
 * (its stage in `error`, the file's other pipelines run), saying what Drone expects.
 */
function parseMiscasedPipeline(r: Reader, root: SourceMap, at: Position, kindName: string, out: ParsedFile): void {
  const before = out.pipelines.length;
  parsePipelineDocument(r, root, out);
  const message = `kind: "${kindName}" is not Drone's kind: Drone matches kinds exactly, so it would create this stage and no runner would ever take it; write kind: pipeline (lower case)`;
  // A pipeline left to another runner is not Slipway's to fail: said, not an error of the file.
  if (out.pipelines.length > before) r.error(at, message);
  else r.warn(at, message);
}

function parsePipelineDocument(r: Reader, root: SourceMap, out: ParsedFile): void {
  const typeEntry = entry(root, 'type');
  const type = typeEntry ? r.string(typeEntry.value, 'type') : 'docker';
  if (type === undefined) return;
  const platform = type === 'docker' ? unservedPlatform(root) : undefined;
  const reason =
    type === 'docker'
      ? platform
      : OTHER_RUNNERS.includes(type)
        ? `type "${type}" runs on another runner`
        : `type "${type}" is not a docker pipeline; it runs on another runner, if any`;
  if (reason !== undefined) {
    const nameEntry = entry(root, 'name');
    const name = (nameEntry && scalarText(nameEntry.value)) || DEFAULT_PIPELINE_NAME;
    out.skipped.push({ skipped: { name, reason, dependsOn: skippedDependsOn(root), ...(platform !== undefined ? { platform: true as const } : {}) }, pos: root.pos });
    return;
  }
  out.pipelines.push(parsePipeline(r, root));
}

/**
 * The `depends_on` of a pipeline Slipway skips, read leniently: its own runner checks its
 * document, and Slipway needs only the names, which its dependents inherit (pipeline-graph.ts).
 */
function skippedDependsOn(root: SourceMap): string[] {
  const deps = entry(root, 'depends_on')?.value;
  if (deps?.kind === 'seq') return deps.items.flatMap((item) => (item.kind === 'scalar' && item.value !== null ? [item.text] : []));
  const single = deps && scalarText(deps);
  return single ? [single] : [];
}

/** The architectures of Fargate's runtime platforms (Linux, X86_64 and ARM64). */
const FARGATE_ARCHES: readonly string[] = ['amd64', 'arm64'];

/**
 * Why Slipway cannot serve a docker pipeline's `platform`, if it cannot. ECS's
 * RuntimePlatform has two CPU architectures, X86_64 and ARM64 (no 32-bit ARM), and ARM64
 * only for Linux (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RuntimePlatform.html);
 * Fargate does run Windows Server tasks, but Slipway's agent and step wrappers are Linux
 * programs. Drone leaves such a pipeline to a runner of that platform; so does Slipway, as
 * for pipelines of other types. A platform that is not even text is the parser's to report.
 */
function unservedPlatform(root: SourceMap): string | undefined {
  const platform = entry(root, 'platform')?.value;
  if (platform?.kind !== 'map') return undefined;
  const os = entry(platform, 'os')?.value;
  const arch = entry(platform, 'arch')?.value;
  const osText = os && scalarText(os);
  const archText = arch && scalarText(arch);
  if (osText !== undefined && osText !== 'linux') return `platform os "${osText}" runs on another runner (Slipway runs Linux containers on Fargate)`;
  if (archText !== undefined && !FARGATE_ARCHES.includes(archText)) {
    const hint = archText === 'arm' ? ' (Fargate has no 32-bit ARM)' : '';
    return `platform arch "${archText}" runs on another runner: Fargate runs amd64 and arm64${hint}`;
  }
  return undefined;
}

function parsePipeline(r: Reader, root: SourceMap): ParsedPipeline {
  r.checkKeys(root, PIPELINE_KEYS, '', 'pipeline', { '*': 'keys that only hold YAML anchors can start with x- to be ignored' });
  const name = r.optional(root, 'name', '', (n, p) => r.nonEmptyString(n, p)) ?? DEFAULT_PIPELINE_NAME;
  const stepSources: SourceMap[] = [];
  const serviceSources: SourceMap[] = [];
  const errorCount = () => r.diagnostics.filter((d) => d.severity === 'error').length;
  const beforeTrigger = errorCount();
  const trigger = r.optional(root, 'trigger', '', (n, p) => r.conditions(n, p)) ?? emptyConditions();
  const triggerSound = errorCount() === beforeTrigger;
  const steps = r.optional(root, 'steps', '', (n, p) => r.steps(n, p, false, stepSources)) ?? [];
  const services = r.optional(root, 'services', '', (n, p) => r.steps(n, p, true, serviceSources)) ?? [];
  const pipeline: Pipeline = {
    kind: 'pipeline',
    type: 'docker',
    name,
    pos: root.pos,
    platform: r.optional(root, 'platform', '', (n, p) => r.platform(n, p)) ?? { os: 'linux', arch: 'amd64' },
    workspace: r.optional(root, 'workspace', '', (n, p) => r.workspace(n, p)) ?? { base: DEFAULT_WORKSPACE, path: DEFAULT_WORKSPACE },
    clone: r.optional(root, 'clone', '', (n, p) => r.clone(n, p)) ?? defaultClone(),
    steps,
    services,
    volumes: r.optional(root, 'volumes', '', (n, p) => r.volumes(n, p)) ?? [],
    trigger,
    dependsOn: r.optional(root, 'depends_on', '', (n, p) => r.stringList(n, p)) ?? [],
    node: r.optional(root, 'node', '', (n, p) => r.stringMap(n, p)) ?? {},
    imagePullSecrets: r.optional(root, 'image_pull_secrets', '', (n, p) => r.stringList(n, p)) ?? [],
    environment: r.optional(root, 'environment', '', (n, p) => r.environment(n, p)) ?? {},
    timeout: r.optional(root, 'timeout', '', (n, p) => r.integer(n, p, 1)) ?? DEFAULT_TIMEOUT_MINUTES,
  };
  const stepsKey = entry(root, 'steps');
  if (stepsKey) pipeline.stepsPos = stepsKey.keyPos;
  const concurrency = r.optional(root, 'concurrency', '', (n, p) => r.concurrency(n, p));
  if (concurrency) pipeline.concurrency = concurrency;
  const resources = r.optional(root, 'resources', '', (n, p) => r.resources(n, p, 'pipeline'));
  if (resources && Object.keys(resources).length > 0) pipeline.resources = resources;
  return { pipeline, source: root, stepSources, serviceSources, triggerSound };
}

function parseSecret(r: Reader, root: SourceMap): SecretDocument | undefined {
  r.checkKeys(root, ['kind', 'type', 'name', 'version', 'get', 'data'], '', 'secret');
  const name = r.required(root, 'name', '', 'secret', (n, p) => r.nonEmptyString(n, p));
  if (name === undefined) return undefined;
  const secret: SecretDocument = { name, pos: root.pos };
  const get = r.optional(root, 'get', '', (n, p) => {
    const map = r.map(n, p);
    if (!map) return undefined;
    r.checkKeys(map, ['path', 'name', 'key'], p, `secret "${name}"`);
    const path = r.optional(map, 'path', p, (v, q) => r.string(v, q));
    const getName = r.optional(map, 'name', p, (v, q) => r.string(v, q)) ?? r.optional(map, 'key', p, (v, q) => r.string(v, q));
    if (path === undefined) {
      r.error(map.pos, `${p}: missing "path" in secret "${name}"`);
      return undefined;
    }
    return getName === undefined ? { path } : { path, name: getName };
  });
  if (get) secret.get = get;
  const data = r.optional(root, 'data', '', (n, p) => r.string(n, p));
  if (data !== undefined) secret.data = data;
  if (!entry(root, 'get') && !entry(root, 'data')) {
    r.error(root.pos, `secret "${name}": expected "get: { path, name }"`);
  }
  return secret;
}

function defaultClone(): CloneSettings {
  return { disable: false, tags: false, skipVerify: false, submodules: false, retries: 0 };
}

// ---- small helpers over the source tree ------------------------------------------

export function entry(map: SourceMap, key: string) {
  for (const e of map.entries) if (e.key === key) return e;
  return undefined;
}

function scalarText(node: SourceNode): string | undefined {
  return node.kind === 'scalar' && node.value !== null ? node.text : undefined;
}

export function describe(node: SourceNode): string {
  if (node.kind === 'map') return 'a map';
  if (node.kind === 'seq') return 'a list';
  if (node.value === null) return 'nothing';
  if (typeof node.value === 'number') return `a number (${node.text})`;
  if (typeof node.value === 'boolean') return `a boolean (${node.text})`;
  return `a string ("${node.value.length > 40 ? `${node.value.slice(0, 40)}…` : node.value}")`;
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

const YAML11_TRUE = new Set(['y', 'yes', 'on', 'true']);
const YAML11_FALSE = new Set(['n', 'no', 'off', 'false']);

/** Reads typed values out of source nodes, reporting what does not fit. */
class Reader {
  readonly diagnostics: Diagnostic[] = [];
  constructor(readonly file: string) {}

  error(pos: Position, message: string) {
    this.diagnostics.push({ file: this.file, line: pos.line, column: pos.column, severity: 'error', message });
  }

  warn(pos: Position, message: string) {
    this.diagnostics.push({ file: this.file, line: pos.line, column: pos.column, severity: 'warning', message });
  }

  expected(node: SourceNode, path: string, what: string): undefined {
    this.error(node.pos, `${path}: expected ${what}, got ${describe(node)}`);
    return undefined;
  }

  /**
   * Unknown keys are warnings, except where dropping one changes what runs (`severity`
   * 'error': a condition of `when:` or `trigger:`; 'misspelled': a step's key that is a near
   * miss of one the step does not set, such as `comands:` — Drone drops it and runs the step
   * without commands, which locally or on ECS fails far from the typo).
   */
  checkKeys(map: SourceMap, known: readonly string[], path: string, where: string, hints: Record<string, string> = {}, severity: 'error' | 'warning' | 'misspelled' = 'warning') {
    for (const e of map.entries) {
      if (known.includes(e.key)) continue;
      // Top-level keys that only carry YAML anchors, by the x- convention of Compose files.
      if (path === '' && where === 'pipeline' && (e.key.startsWith('x-') || e.key.startsWith('.'))) continue;
      const suggestion = closest(e.key, known);
      const extra = hints[e.key] ?? hints['*'];
      const hint = suggestion ? ` — did you mean "${suggestion}"?` : extra ? ` — ${extra}` : '';
      const message = `${path ? `${path}: ` : ''}unknown key "${e.key}" in ${where}${hint}`;
      const misspelled = severity === 'misspelled' && suggestion !== undefined && !entry(map, suggestion);
      if (severity === 'error' || misspelled) this.error(e.keyPos, misspelled ? `${message} (without it the ${where} runs without its ${suggestion})` : message);
      else this.warn(e.keyPos, message);
    }
  }

  optional<T>(map: SourceMap, key: string, path: string, read: (node: SourceNode, path: string) => T | undefined): T | undefined {
    const e = entry(map, key);
    return e ? read(e.value, join(path, key)) : undefined;
  }

  required<T>(map: SourceMap, key: string, path: string, where: string, read: (node: SourceNode, path: string) => T | undefined): T | undefined {
    const e = entry(map, key);
    if (!e) {
      this.error(map.pos, `${path ? `${path}: ` : ''}missing "${key}" in ${where}`);
      return undefined;
    }
    return read(e.value, join(path, key));
  }

  map(node: SourceNode, path: string): SourceMap | undefined {
    return node.kind === 'map' ? node : this.expected(node, path, 'a map');
  }

  /** A map where an empty value (`temp:` or `temp: {}`) means "no keys". */
  mapOrEmpty(node: SourceNode, path: string): SourceMap | undefined {
    if (node.kind === 'scalar' && node.value === null) return { kind: 'map', pos: node.pos, entries: [] };
    return this.map(node, path);
  }

  /** Strings, numbers and booleans read as the text written, as Drone's YAML library does. */
  string(node: SourceNode, path: string): string | undefined {
    if (node.kind === 'scalar' && node.value !== null) return node.text;
    return this.expected(node, path, 'a string');
  }

  nonEmptyString(node: SourceNode, path: string): string | undefined {
    const value = this.string(node, path);
    if (value !== undefined && value.trim() === '') {
      this.error(node.pos, `${path}: must not be empty`);
      return undefined;
    }
    return value;
  }

  oneOf<T extends string>(node: SourceNode, path: string, allowed: readonly T[]): T | undefined {
    const value = this.string(node, path);
    if (value === undefined) return undefined;
    if ((allowed as readonly string[]).includes(value)) return value as T;
    return this.expected(node, path, allowed.map((a) => `"${a}"`).join(', ').replace(/, ([^,]*)$/, ' or $1'));
  }

  /**
   * `pull:` in any case (drone-runner-docker engine/compiler/util.go convertPullPolicy
   * lower-cases it), and the legacy boolean: true is `always`, false `if-not-exists`
   * (drone-yaml yaml/converter/legacy/internal/config.go toPullPolicy).
   */
  pull(node: SourceNode, path: string): PullPolicy | undefined {
    if (node.kind === 'scalar') {
      const text = typeof node.value === 'string' ? node.value.toLowerCase() : node.value;
      if (text === true || (typeof text === 'string' && YAML11_TRUE.has(text))) return 'always';
      if (text === false || (typeof text === 'string' && YAML11_FALSE.has(text))) return 'if-not-exists';
      if (typeof text === 'string' && (PULL_POLICIES as readonly string[]).includes(text)) return text as PullPolicy;
    }
    return this.expected(node, path, `${PULL_POLICIES.map((a) => `"${a}"`).join(', ')}, or true / false`);
  }

  /** `failure:` as Drone reads it (FAILURE_VALUES). */
  failure(node: SourceNode, path: string): FailurePolicy | undefined {
    if (node.kind === 'scalar' && typeof node.value === 'string') {
      const policy = FAILURE_VALUES[node.value.toLowerCase()];
      if (policy !== undefined && Object.hasOwn(FAILURE_VALUES, node.value.toLowerCase())) return policy;
    }
    return this.expected(node, path, `${Object.keys(FAILURE_VALUES).map((a) => `"${a}"`).join(', ')} (fast, fast-fail and fail-fast are one policy)`);
  }

  boolean(node: SourceNode, path: string): boolean | undefined {
    if (node.kind === 'scalar') {
      if (typeof node.value === 'boolean') return node.value;
      // Drone reads YAML 1.1, where yes/no/on/off are booleans.
      if (typeof node.value === 'string') {
        const lower = node.value.toLowerCase();
        if (YAML11_TRUE.has(lower)) return true;
        if (YAML11_FALSE.has(lower)) return false;
      }
    }
    return this.expected(node, path, 'true or false');
  }

  integer(node: SourceNode, path: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
    if (node.kind === 'scalar' && typeof node.value === 'number' && Number.isInteger(node.value)) {
      if (node.value >= min && node.value <= max) return node.value;
      const range = max === Number.MAX_SAFE_INTEGER ? `a whole number of at least ${min}` : `a whole number from ${min} to ${max}`;
      return this.expected(node, path, range);
    }
    return this.expected(node, path, 'a whole number');
  }

  list(node: SourceNode, path: string): SourceNode[] | undefined {
    if (node.kind === 'seq') return node.items;
    if (node.kind === 'scalar' && node.value === null) return [];
    return this.expected(node, path, 'a list');
  }

  stringList(node: SourceNode, path: string): string[] | undefined {
    if (node.kind === 'scalar' && node.value !== null) return this.expected(node, path, `a list of strings (write [${node.text}])`);
    const items = this.list(node, path);
    if (!items) return undefined;
    const out: string[] = [];
    items.forEach((item, i) => {
      const value = this.string(item, `${path}[${i}]`);
      if (value !== undefined) out.push(value);
    });
    return out;
  }

  stringMap(node: SourceNode, path: string): Record<string, string> | undefined {
    const map = this.mapOrEmpty(node, path);
    if (!map) return undefined;
    const out: [string, string][] = [];
    for (const e of map.entries) {
      const value = this.string(e.value, join(path, e.key));
      if (value !== undefined) out.push([e.key, value]);
    }
    return Object.fromEntries(out);
  }

  environment(node: SourceNode, path: string): Record<string, EnvValue> | undefined {
    const map = this.mapOrEmpty(node, path);
    if (!map) return undefined;
    const out: [string, EnvValue][] = [];
    for (const e of map.entries) {
      const p = join(path, e.key);
      if (e.key === '' || /[=\0]/.test(e.key)) {
        this.error(e.keyPos, `${path}: "${e.key}" is not a valid environment variable name`);
        continue;
      }
      const value = this.envValue(e.value, p);
      if (value) out.push([e.key, value]);
    }
    return Object.fromEntries(out);
  }

  private envValue(node: SourceNode, path: string): EnvValue | undefined {
    if (node.kind === 'scalar') return { value: node.value === null ? '' : node.text };
    if (node.kind === 'map' && entry(node, 'from_secret')) {
      const secret = this.fromSecret(node, path);
      return secret === undefined ? undefined : { fromSecret: secret };
    }
    return this.expected(node, path, 'a string, a number, a boolean or { from_secret: NAME }');
  }

  /** `{ from_secret: NAME }` → NAME; undefined when the map is not that shape. */
  private fromSecret(node: SourceMap, path: string): string | undefined {
    const e = entry(node, 'from_secret');
    if (!e) return undefined;
    if (node.entries.length > 1) {
      const other = node.entries.find((x) => x.key !== 'from_secret')!;
      this.error(other.keyPos, `${path}: unexpected key "${other.key}" beside from_secret`);
    }
    return this.nonEmptyString(e.value, join(path, 'from_secret'));
  }

  settings(node: SourceNode, path: string): Record<string, SettingValue> | undefined {
    const map = this.mapOrEmpty(node, path);
    if (!map) return undefined;
    const out: [string, SettingValue][] = [];
    for (const e of map.entries) {
      const p = join(path, e.key);
      if (e.value.kind === 'map' && entry(e.value, 'from_secret')) {
        const secret = this.fromSecret(e.value, p);
        if (secret !== undefined) out.push([e.key, { fromSecret: secret }]);
        continue;
      }
      out.push([e.key, { value: toPlain(e.value) }]);
    }
    return Object.fromEntries(out);
  }

  conditions(node: SourceNode, path: string): Conditions | undefined {
    const map = this.mapOrEmpty(node, path);
    if (!map) return undefined;
    // Drone's YAML reader drops an unknown key here without a word (runner-go
    // manifest/cond.go, Conditions: action, cron, ref, repo, instance, target, event, branch,
    // status, paths), so `branches: [main]` or `evnet: tag` would let a deploy step run on
    // every build. Here it is an error that names the key meant.
    const where = path === 'trigger' ? 'trigger' : 'when';
    this.checkKeys(map, CONDITION_FIELDS, path, where, { ...CONDITION_HINTS, '*': `${where} filters on ${CONDITION_FIELDS.join(', ')}` }, 'error');
    const out = emptyConditions();
    for (const field of CONDITION_FIELDS) {
      const condition = this.optional(map, field, path, (n, p) => this.condition(n, p));
      if (condition) out[field] = condition;
    }
    return out;
  }

  /** Drone's three forms: `main`, `[a, b]`, `{ include: [...], exclude: [...] }`. */
  condition(node: SourceNode, path: string): Condition | undefined {
    if (node.kind === 'scalar') {
      if (node.value === null) return emptyCondition();
      return { include: [node.text], exclude: [] };
    }
    if (node.kind === 'seq') return { include: this.stringList(node, path) ?? [], exclude: [] };
    this.checkKeys(node, ['include', 'exclude'], path, 'a condition', { '*': 'a condition is a pattern, a list of patterns, or { include: [...], exclude: [...] }' }, 'error');
    const patterns = (n: SourceNode, p: string) =>
      n.kind === 'scalar' && n.value !== null ? [n.text] : this.stringList(n, p);
    return {
      include: this.optional(node, 'include', path, patterns) ?? [],
      exclude: this.optional(node, 'exclude', path, patterns) ?? [],
    };
  }

  platform(node: SourceNode, path: string): Pipeline['platform'] | undefined {
    const map = this.mapOrEmpty(node, path);
    if (!map) return undefined;
    this.checkKeys(map, ['os', 'arch', 'variant', 'version'], path, 'platform');
    this.optional(map, 'os', path, (n, p) => {
      const value = this.string(n, p);
      if (value !== undefined && value !== 'linux') {
        this.error(n.pos, `${p}: expected "linux", got "${value}" (Slipway runs Linux containers on Fargate)`);
      }
      return value;
    });
    const arch = this.optional(map, 'arch', path, (n, p) => this.arch(n, p)) ?? 'amd64';
    return { os: 'linux', arch };
  }

  private arch(node: SourceNode, path: string): Arch | undefined {
    const value = this.string(node, path);
    if (value === undefined) return undefined;
    if (value === 'amd64' || value === 'arm64') return value;
    const hint = value === 'arm' ? ' (Fargate has no 32-bit ARM; use arm64)' : ' (the Fargate runtime platforms)';
    this.error(node.pos, `${path}: expected "amd64" or "arm64", got "${value}"${hint}`);
    return undefined;
  }

  /** Drone's rule: `base` + `path`, where an absolute `path` alone is the whole workspace. */
  workspace(node: SourceNode, path: string): { base: string; path: string } | undefined {
    const map = this.mapOrEmpty(node, path);
    if (!map) return undefined;
    this.checkKeys(map, ['path', 'base'], path, 'workspace');
    let base = this.optional(map, 'base', path, (n, p) => this.string(n, p)) ?? '';
    let sub = this.optional(map, 'path', path, (n, p) => this.string(n, p)) ?? '';
    if (base === '') {
      if (sub.startsWith('/')) [base, sub] = [sub, ''];
      else base = DEFAULT_WORKSPACE;
    }
    const full = normalisePath(sub === '' ? base : `${base}/${sub}`);
    if (!full.startsWith('/') || !base.startsWith('/')) {
      this.error(map.pos, `${path}: expected an absolute path, got "${base.startsWith('/') ? full : base}"`);
      return undefined;
    }
    return { base: normalisePath(base), path: full };
  }

  clone(node: SourceNode, path: string): CloneSettings | undefined {
    const map = this.mapOrEmpty(node, path);
    if (!map) return undefined;
    this.checkKeys(map, ['disable', 'depth', 'retries', 'skip_verify', 'tags', 'submodules', 'trace'], path, 'clone');
    const clone = defaultClone();
    clone.disable = this.optional(map, 'disable', path, (n, p) => this.boolean(n, p)) ?? false;
    const depth = this.optional(map, 'depth', path, (n, p) => this.integer(n, p, 0));
    // 0 asks for the full history; unset, the compiler clones shallow (DEFAULT_CLONE_DEPTH).
    if (depth !== undefined) clone.depth = depth;
    clone.retries = this.optional(map, 'retries', path, (n, p) => this.integer(n, p, 0, 10)) ?? 0;
    clone.skipVerify = this.optional(map, 'skip_verify', path, (n, p) => this.boolean(n, p)) ?? false;
    clone.tags = this.optional(map, 'tags', path, (n, p) => this.boolean(n, p)) ?? false;
    clone.submodules = this.optional(map, 'submodules', path, (n, p) => this.boolean(n, p)) ?? false;
    this.optional(map, 'trace', path, (n, p) => this.boolean(n, p));
    return clone;
  }

  concurrency(node: SourceNode, path: string): { limit: number } | undefined {
    const map = this.mapOrEmpty(node, path);
    if (!map) return undefined;
    this.checkKeys(map, ['limit'], path, 'concurrency');
    const limit = this.optional(map, 'limit', path, (n, p) => this.integer(n, p, 0));
    // Drone treats limit 0 (or none) as unlimited.
    return limit ? { limit } : undefined;
  }

  /**
   * Fargate units: cpu in 1/1024 vCPU, memory in MiB; on the pipeline also `storage`, the
   * task's ephemeral storage in GiB (`50`, or Kubernetes' `50Gi`), which every image and the
   * workspace share. Its range is checked by lint (lintResources).
   */
  resources(node: SourceNode, path: string, level: 'pipeline' | 'step'): { cpu?: number; memory?: number; storage?: number } | undefined {
    const map = this.mapOrEmpty(node, path);
    if (!map) return undefined;
    this.checkKeys(map, ['cpu', 'memory', 'storage'], path, 'resources', { limits: 'write resources: { cpu: 1024, memory: 2048 } (CPU units, MiB)' });
    const out: { cpu?: number; memory?: number; storage?: number } = {};
    const cpu = this.optional(map, 'cpu', path, (n, p) => this.integer(n, p, 1));
    const memory = this.optional(map, 'memory', path, (n, p) => this.integer(n, p, 1));
    if (cpu !== undefined) out.cpu = cpu;
    if (memory !== undefined) out.memory = memory;
    const storage = entry(map, 'storage');
    if (storage && level === 'step') {
      this.error(
        storage.keyPos,
        `${join(path, 'storage')}: storage belongs to the whole task (every image and the workspace share it), not to one step: set resources: { storage: GiB } on the pipeline`,
      );
    } else if (storage) {
      const gib = this.gibibytes(storage.value, join(path, 'storage'));
      if (gib !== undefined) out.storage = gib;
    }
    return out;
  }

  /** A whole number of GiB: `50`, `50Gi` or `50GiB`. */
  gibibytes(node: SourceNode, path: string): number | undefined {
    if (node.kind === 'scalar' && typeof node.value === 'string') {
      const m = /^\s*(\d+)\s*(Gi|GiB)\s*$/.exec(node.value);
      if (m) return Number(m[1]);
      return this.expected(node, path, 'a whole number of GiB (50, or 50Gi)');
    }
    if (node.kind === 'scalar' && typeof node.value === 'number' && Number.isInteger(node.value)) return node.value;
    return this.expected(node, path, 'a whole number of GiB (50, or 50Gi)');
  }

  volumes(node: SourceNode, path: string): Volume[] | undefined {
    const items = this.list(node, path);
    if (!items) return undefined;
    const out: Volume[] = [];
    items.forEach((item, i) => {
      const p = `${path}[${i}]`;
      const map = this.map(item, p);
      if (!map) return;
      this.checkKeys(map, ['name', 'temp', 'host'], p, 'volume');
      const name = this.required(map, 'name', p, 'volume', (n, q) => this.nonEmptyString(n, q));
      const temp = entry(map, 'temp');
      if (temp) {
        const tempMap = this.mapOrEmpty(temp.value, join(p, 'temp'));
        if (tempMap) this.checkKeys(tempMap, ['medium', 'size_limit'], join(p, 'temp'), 'temp volume');
      }
      const host = entry(map, 'host');
      if (host) this.mapOrEmpty(host.value, join(p, 'host'));
      if (!temp && !host) this.error(map.pos, `${p}: expected "temp: {}" (a task volume)`);
      const hostPath = host?.value.kind === 'map' ? entry(host.value, 'path')?.value : undefined;
      const hostText = hostPath?.kind === 'scalar' && typeof hostPath.value === 'string' ? hostPath.value : undefined;
      if (name !== undefined) out.push({ name, temp: temp !== undefined && host === undefined, ...(hostText !== undefined ? { hostPath: hostText } : {}), pos: map.pos });
    });
    return out;
  }

  private mounts(node: SourceNode, path: string): VolumeMount[] | undefined {
    const items = this.list(node, path);
    if (!items) return undefined;
    const out: VolumeMount[] = [];
    items.forEach((item, i) => {
      const p = `${path}[${i}]`;
      const map = this.map(item, p);
      if (!map) return;
      this.checkKeys(map, ['name', 'path'], p, 'volume mount');
      const name = this.required(map, 'name', p, 'volume mount', (n, q) => this.nonEmptyString(n, q));
      const mountPath = this.required(map, 'path', p, 'volume mount', (n, q) => this.nonEmptyString(n, q));
      if (mountPath !== undefined && !mountPath.startsWith('/')) {
        this.error(entry(map, 'path')!.value.pos, `${join(p, 'path')}: expected an absolute path, got "${mountPath}"`);
        return;
      }
      if (name !== undefined && mountPath !== undefined) out.push({ name, path: mountPath });
    });
    return out;
  }

  steps(node: SourceNode, path: string, services: boolean, sources: SourceMap[]): Step[] | undefined {
    const items = this.list(node, path);
    if (!items) return undefined;
    const out: Step[] = [];
    items.forEach((item, i) => {
      const step = this.step(item, `${path}[${i}]`, services);
      if (step) {
        out.push(step);
        sources.push(item as SourceMap);
      }
    });
    return out;
  }

  private step(node: SourceNode, path: string, service: boolean): Step | undefined {
    const map = this.map(node, path);
    if (!map) return undefined;
    const what = service ? 'service' : 'step';
    const nameEntry = entry(map, 'name');
    const label = nameEntry && scalarText(nameEntry.value) ? `${what} "${scalarText(nameEntry.value)}"` : what;
    this.checkKeys(map, STEP_KEYS, path, label, STEP_KEY_HINTS, 'misspelled');
    const name = this.required(map, 'name', path, what, (n, p) => this.nonEmptyString(n, p));
    const image = this.required(map, 'image', path, label, (n, p) => this.nonEmptyString(n, p));
    const step: Step = {
      name: name ?? '',
      pos: map.pos,
      image: image ?? '',
      pull: this.optional(map, 'pull', path, (n, p) => this.pull(n, p)) ?? 'default',
      commands: this.optional(map, 'commands', path, (n, p) => this.stringList(n, p)) ?? [],
      environment: this.optional(map, 'environment', path, (n, p) => this.environment(n, p)) ?? {},
      settings: this.optional(map, 'settings', path, (n, p) => this.settings(n, p)) ?? {},
      dependsOn: this.optional(map, 'depends_on', path, (n, p) => this.stringList(n, p)) ?? [],
      detach: this.optional(map, 'detach', path, (n, p) => this.boolean(n, p)) ?? false,
      failure: this.optional(map, 'failure', path, (n, p) => this.failure(n, p)) ?? 'always',
      when: this.optional(map, 'when', path, (n, p) => this.conditions(n, p)) ?? emptyConditions(),
      volumes: this.optional(map, 'volumes', path, (n, p) => this.mounts(n, p)) ?? [],
      privileged: this.optional(map, 'privileged', path, (n, p) => this.boolean(n, p)) ?? false,
    };
    const entrypoint = this.optional(map, 'entrypoint', path, (n, p) => this.stringList(n, p));
    if (entrypoint) step.entrypoint = entrypoint;
    const command = this.optional(map, 'command', path, (n, p) => this.stringList(n, p));
    if (command) step.command = command;
    const user = this.optional(map, 'user', path, (n, p) => this.nonEmptyString(n, p));
    if (user !== undefined) step.user = user;
    const workingDir = this.optional(map, 'working_dir', path, (n, p) => this.nonEmptyString(n, p));
    if (workingDir !== undefined) step.workingDir = workingDir;
    const shell = this.optional(map, 'shell', path, (n, p) => this.nonEmptyString(n, p));
    if (shell !== undefined) step.shell = shell;
    const resources = this.optional(map, 'resources', path, (n, p) => this.resources(n, p, 'step'));
    if (resources && Object.keys(resources).length > 0) step.resources = resources;
    const ready = this.optional(map, 'ready', path, (n, p) => this.ready(n, p));
    const ports = this.optional(map, 'ports', path, (n, p) => this.ports(n, p));
    if (service || step.detach) {
      step.ready = ready ?? { ports: [], timeout: READY_DEFAULTS.timeout, interval: READY_DEFAULTS.interval };
      const readyNode = entry(map, 'ready')?.value;
      const explicitPorts = readyNode?.kind === 'map' && entry(readyNode, 'ports') !== undefined;
      // ready.ports, else Drone's `ports:`, else what the image is known to listen on.
      if (!explicitPorts) step.ready.ports = ports ?? ((image && knownImagePorts(image)) || []);
    }
    return step;
  }

  /** Drone's `ports: [6379]` or `ports: [{ port: 6379, host: 6379 }]`: the ports a container listens on. */
  private ports(node: SourceNode, path: string): number[] | undefined {
    const items = this.list(node, path);
    if (!items) return undefined;
    const out: number[] = [];
    items.forEach((item, i) => {
      const p = `${path}[${i}]`;
      if (item.kind === 'map') {
        this.checkKeys(item, ['port', 'host', 'protocol'], p, 'port');
        const port = this.required(item, 'port', p, 'port', (n, q) => this.integer(n, q, 1, 65535));
        this.optional(item, 'host', p, (n, q) => this.integer(n, q, 1, 65535));
        if (port !== undefined) out.push(port);
        return;
      }
      const port = this.integer(item, p, 1, 65535);
      if (port !== undefined) out.push(port);
    });
    return out;
  }

  private ready(node: SourceNode, path: string): Readiness | undefined {
    const map = this.mapOrEmpty(node, path);
    if (!map) return undefined;
    this.checkKeys(map, ['ports', 'command', 'timeout', 'interval'], path, 'ready');
    const ports = this.optional(map, 'ports', path, (n, p) => {
      const items = this.list(n, p);
      if (!items) return undefined;
      const out: number[] = [];
      items.forEach((item, i) => {
        const port = this.integer(item, `${p}[${i}]`, 1, 65535);
        if (port !== undefined) out.push(port);
      });
      return out;
    });
    const ready: Readiness = {
      ports: ports ?? [],
      timeout: this.optional(map, 'timeout', path, (n, p) => this.integer(n, p, 1, 3600)) ?? READY_DEFAULTS.timeout,
      interval: this.optional(map, 'interval', path, (n, p) => this.integer(n, p, 1, 300)) ?? READY_DEFAULTS.interval,
    };
    const command = this.optional(map, 'command', path, (n, p) => this.nonEmptyString(n, p));
    if (command !== undefined) ready.command = command;
    return ready;
  }
}

function normalisePath(path: string): string {
  const absolute = path.startsWith('/');
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return (absolute ? '/' : '') + parts.join('/');
}

/** A YAML node as plain data (plugin settings take any value). */
export function toPlain(node: SourceNode): unknown {
  if (node.kind === 'scalar') return node.value;
  if (node.kind === 'seq') return node.items.map(toPlain);
  return Object.fromEntries(node.entries.map((e) => [e.key, toPlain(e.value)]));
}

