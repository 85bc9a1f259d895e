// Meaning checks over parsed pipelines: names, references, cycles, and what a Fargate task
// cannot do. Each rule's message starts with a constant phrase (LINT.*) after the path of
// the offending key, so tools and tests can recognise a rule without parsing prose.

import { AGENT_STATE_VOLUME, STATE_DIR, STATE_VOLUME, WORKSPACE_VOLUME } from './contract.js';
import { closest } from './format.js';
import { EPHEMERAL_STORAGE, HEALTH, MAX_CONTAINERS } from './limits.js';
import { SECRET_NAME, SHELL_NAME, normalizePath } from './secret-names.js';
import { fitContainers, isPlugin, tooManyContainersMessage, type PackUnit } from './pack.js';
import { segments, splitRefusal } from './segments.js';
import { stepKind } from './step-order.js';
import { hasEntrypoint, mayReceiveSecrets } from './plugin-command.js';
import { imageRepository } from './known-images.js';
import { imageBuildKind } from './image-build.js';
import { CAPACITY_PREFERENCES, TRUST_SETTING, isDockerSocket, needsDockerDaemon } from './capacity.js';
import { CONDITION_FIELDS, UNSUPPORTED_STEP_KEYS, entry, type ParsedFile, type ParsedPipeline } from './parse.js';
import { MAX_PATTERN_LENGTH } from './glob.js';
import { spend } from './work.js';
import { pipelineGraph } from './pipeline-graph.js';
import type { SourceMap, SourceNode } from './yaml-source.js';
import type { Conditions, Diagnostic, Pipeline, Position, Step } from './types.js';

export const LINT = {
  duplicatePipeline: 'duplicate pipeline name',
  duplicateStep: 'duplicate step name',
  duplicateVolume: 'duplicate volume name',
  duplicateSecret: 'duplicate secret name',
  reservedStepName: 'step name reserved',
  unsafeName: 'name cannot become a container name',
  unknownStep: 'unknown step',
  unknownPipeline: 'unknown pipeline',
  skippedDependency: 'depends on a skipped pipeline',
  stepCycle: 'step dependency cycle',
  pipelineCycle: 'pipeline dependency cycle',
  privileged: 'Fargate cannot run privileged containers',
  dockerDaemon: 'Fargate has no Docker daemon',
  hostVolume: 'Fargate has no host volumes',
  dockerSocket: 'Fargate has no Docker engine',
  unsupportedOption: 'not supported on Fargate',
  ignoredOption: 'ignored on Fargate',
  unknownVolume: 'unknown volume',
  reservedVolume: 'volume name reserved',
  reservedPath: 'path reserved',
  portConflict: 'port already taken',
  detachedService: 'detach has no effect on a service',
  serviceDependsOn: 'depends_on has no effect on a service',
  readyOnStep: 'applies only to services and detached steps',
  encryptedSecret: 'encrypted secrets (data:) are not supported',
  tooLarge: 'larger than Fargate allows',
  tooSmall: 'smaller than Fargate allows',
  noSteps: 'pipeline has no steps',
  noReadiness: 'no readiness check',
  unknownValue: 'unknown value',
  tooManyContainers: 'too many containers',
  localhostAcrossTasks: 'localhost does not reach the services here',
  splitIntoTasks: 'runs as consecutive tasks',
  timeoutTooLong: 'timeout too long',
  secretEnvName: 'secret in a variable the shell cannot name',
  secretName: 'invalid secret name',
  serviceNamesUnresolved: 'service names do not resolve here',
  patternTooLong: 'pattern too long',
  maskedPluginEnvName: 'variable a masked plugin cannot receive',
} as const;

const PHASE = 'check the pipelines';

/** The longest pipeline `timeout`: a hung build must not hold a Fargate task (and its bill) for days. */
export const MAX_TIMEOUT_MINUTES = 1440;
/**
 * The longest `ready.timeout`. The agent enforces it (for services in its gate, for detached
 * steps while supervising), not ECS: no container has a startTimeout. A readiness command
 * becomes an ECS health check whose start period (at most 300 s) covers the wait; ports are
 * checked by the agent, whose own health check (what the first steps wait for) allows at
 * most a 300 s start period, clone included. Past it the container shows UNHEALTHY while it
 * is still starting.
 */
export const MAX_READY_TIMEOUT = { command: HEALTH.startPeriod.max, ports: HEALTH.startPeriod.max } as const;

/** Fargate's largest task: 16 vCPU, 120 GiB. */
export const FARGATE_MAX = { cpu: 16_384, memory: 122_880 } as const;

/**
 * The rules EC2 capacity lifts for a trusted repository (capacity.ts): what a Docker daemon
 * gives. Their messages end with EC2_ADVICE, which names the setting.
 */
export const EC2_RULES: readonly string[] = [LINT.privileged, LINT.dockerDaemon, LINT.dockerSocket];
const EC2_ADVICE = `, or run the pipeline on EC2 capacity, which an operator allows per trusted repository (${TRUST_SETTING}; never for pull requests from forks)`;

/** Whether a diagnostic is one of EC2_RULES (its message is `PATH: RULE…`). */
export function isEc2Rule(message: string): boolean {
  return EC2_RULES.some((rule) => message.includes(`: ${rule}`));
}
const RESERVED_VOLUMES = new Set(['workspace', '_workspace', '_docker_socket', WORKSPACE_VOLUME, STATE_VOLUME, AGENT_STATE_VOLUME]);
const RESERVED_PATHS = [STATE_DIR, '/run/drone'];
const EVENTS = ['push', 'pull_request', 'tag', 'promote', 'rollback', 'cron', 'custom'];
const STATUSES = ['success', 'failure'];
const MAX_NAME_LENGTH = 100;

export function lintParsed(parsed: ParsedFile, file: string, options: { splitPipelines?: boolean } = {}): Diagnostic[] {
  const out = new Findings(file);
  const secretDocs = new Set(parsed.secrets.map((s) => s.secret.name));
  for (const p of parsed.pipelines) lintPipeline(p, out, secretDocs, options.splitPipelines === true);
  lintPipelineGraph(parsed, out);
  lintSecrets(parsed, out);
  return out.diagnostics;
}

class Findings {
  readonly diagnostics: Diagnostic[] = [];
  constructor(readonly file: string) {}
  error(pos: Position, path: string, message: string) {
    this.diagnostics.push({ file: this.file, line: pos.line, column: pos.column, severity: 'error', message: prefix(path, message) });
  }
  warn(pos: Position, path: string, message: string) {
    this.diagnostics.push({ file: this.file, line: pos.line, column: pos.column, severity: 'warning', message: prefix(path, message) });
  }
  note(pos: Position, path: string, message: string) {
    this.diagnostics.push({ file: this.file, line: pos.line, column: pos.column, severity: 'note', message: prefix(path, message) });
  }
}

function prefix(path: string, message: string): string {
  return path ? `${path}: ${message}` : message;
}

/** A step or service with where it sits in the YAML. */
interface Located {
  step: Step;
  source: SourceMap;
  path: string;
  service: boolean;
}

function located(p: ParsedPipeline): Located[] {
  // Positions by identity, found once: indexOf per step would be quadratic in the steps.
  const positions = new Map<SourceNode, number>();
  for (const key of ['services', 'steps']) {
    const seq = entry(p.source, key)?.value;
    if (seq?.kind !== 'seq') continue;
    spend(seq.items.length, PHASE);
    seq.items.forEach((item, i) => positions.set(item, i));
  }
  const indexIn = (_key: string, source: SourceMap) => positions.get(source) ?? -1;
  return [
    ...p.pipeline.services.map((step, i) => ({ step, source: p.serviceSources[i]!, path: `services[${indexIn('services', p.serviceSources[i]!)}]`, service: true })),
    ...p.pipeline.steps.map((step, i) => ({ step, source: p.stepSources[i]!, path: `steps[${indexIn('steps', p.stepSources[i]!)}]`, service: false })),
  ];
}

/** Position of a key's value inside a map, or of the map itself when the key is absent. */
function valuePos(map: SourceMap, key: string): Position {
  return entry(map, key)?.value.pos ?? map.pos;
}

function keyPos(map: SourceMap, key: string): Position {
  return entry(map, key)?.keyPos ?? map.pos;
}

function lintPipeline(p: ParsedPipeline, out: Findings, secretDocs: ReadonlySet<string>, splitPipelines: boolean): void {
  const { pipeline } = p;
  const all = located(p);
  const stepsNode = entry(p.source, 'steps')?.value;
  const noStepsWritten = !stepsNode || (stepsNode.kind === 'scalar' && stepsNode.value === null) || (stepsNode.kind === 'seq' && stepsNode.items.length === 0);
  if (pipeline.steps.length === 0 && noStepsWritten) {
    out.warn(pipeline.pos, '', `${LINT.noSteps}: pipeline "${pipeline.name}" runs nothing`);
  }
  lintNames(p, all, out);
  lintDependencies(p, all, out);
  lintVolumes(p, all, out);
  lintPorts(all, out);
  lintConditions(entry(p.source, 'trigger')?.value, pipeline.trigger, 'trigger', out);
  lintResources(p.source, '', out);
  lintCapacity(p, out);
  if (RESERVED_PATHS.some((r) => isUnder(pipeline.workspace.path, r))) {
    out.error(valuePos(p.source, 'workspace'), 'workspace', `${LINT.reservedPath}: ${pipeline.workspace.path} is reserved for the runner; choose another path`);
  }
  for (const s of all) {
    spend(50, PHASE); // every rule looks at every step
    lintStep(s, out);
  }
  lintContainerCount(p, out, splitPipelines, all);
  if (pipeline.timeout > MAX_TIMEOUT_MINUTES) {
    out.error(
      valuePos(p.source, 'timeout'),
      'timeout',
      `${LINT.timeoutTooLong}: ${pipeline.timeout} minutes; Slipway runs a pipeline for at most ${MAX_TIMEOUT_MINUTES} minutes (24 hours) so that a hung build cannot hold its Fargate task indefinitely`,
    );
  }
  lintSecretNames(p.pipeline.environment, entry(p.source, 'environment')?.value, 'environment', secretDocs, out);
  for (const s of all) lintSecretNames(s.step.environment, entry(s.source, 'environment')?.value, `${s.path}.environment`, secretDocs, out);
  lintUnresolvedNames(p, all, out);
  for (const s of all) if (!s.service) lintMaskedPluginNames(s, p.pipeline, out);
}

/**
 * A plugin step that receives secrets runs its image's command under a shell wrapper that
 * masks its output (script.ts, pluginScript). A shell passes on only variables whose
 * names it can hold (dash and busybox sh drop `PLUGIN_API-KEY` from the environment of
 * what they run), so such a setting or variable would never reach the plugin, and could
 * not be masked: refused here, with the rename that works. A plugin without secrets runs
 * its image directly and receives every name, as in Drone.
 */
function lintMaskedPluginNames(s: Located, pipeline: Pipeline, out: Findings): void {
  if (s.step.commands.length > 0 || !mayReceiveSecrets(s.step, pipeline)) return;
  const settings = entry(s.source, 'settings')?.value;
  for (const key of Object.keys(s.step.settings)) {
    const name = `PLUGIN_${key.toUpperCase()}`;
    if (SHELL_NAME.test(name)) continue;
    const at = settings?.kind === 'map' ? (entry(settings, key)?.keyPos ?? settings.pos) : s.source.pos;
    out.error(at, `${s.path}.settings.${key}`, `${LINT.maskedPluginEnvName}: "${key}" becomes ${name}; this step receives secrets, so its output is masked by a shell wrapper, which cannot pass that name on to the plugin nor mask it; use ${shellSafe(key)} if the plugin reads ${shellSafe(name)}`);
  }
  const environment = entry(s.source, 'environment')?.value;
  for (const name of Object.keys(s.step.environment)) {
    if (SHELL_NAME.test(name) || 'fromSecret' in s.step.environment[name]!) continue; // secrets: lintSecretNames
    const at = environment?.kind === 'map' ? (entry(environment, name)?.keyPos ?? environment.pos) : s.source.pos;
    out.error(at, `${s.path}.environment.${name}`, `${LINT.maskedPluginEnvName}: "${name}"; this step receives secrets, so its output is masked by a shell wrapper, which cannot pass that name on to the plugin; use ${shellSafe(name)}`);
  }
}

function shellSafe(name: string): string {
  return name.replace(/[^A-Za-z0-9_]/g, '_').replace(/^([0-9])/, '_$1');
}

/**
 * A secret's variable must be a shell name, or the step script cannot read it to mask it
 * in the log; its `from_secret` must be one SSM path segment (or a `kind: secret` document).
 */
function lintSecretNames(env: Step['environment'], node: SourceNode | undefined, path: string, docs: ReadonlySet<string>, out: Findings): void {
  for (const [name, value] of Object.entries(env)) {
    if (!('fromSecret' in value)) continue;
    const e = node?.kind === 'map' ? entry(node, name) : undefined;
    const keyAt = e?.keyPos ?? node?.pos ?? { line: 1, column: 1 };
    if (!SHELL_NAME.test(name)) {
      out.error(keyAt, `${path}.${name}`, `${LINT.secretEnvName}: "${name}" holds secret ${value.fromSecret}, but the step's log can mask only variables named with letters, digits and "_" (not starting with a digit); rename it, e.g. ${name.replace(/[^A-Za-z0-9_]/g, '_').replace(/^([0-9])/, '_$1')}`);
    }
    if (!docs.has(value.fromSecret) && !SECRET_NAME.test(value.fromSecret)) {
      const at = e?.value.kind === 'map' ? valuePos(e.value, 'from_secret') : keyAt;
      out.error(at, `${path}.${name}.from_secret`, `${LINT.secretName}: "${value.fromSecret}" (a repository secret's name is one segment of its parameter path: letters, digits, "_", "." and "-", not "." or "..")`);
    }
  }
}

/**
 * Service names reach a step through /etc/hosts, which a step's wrapper or a plugin's
 * launcher writes, as root. A plugin step without secrets gets the launcher only when its
 * command line is known: its own `entrypoint:` (always), or its image's as the planner reads
 * it from the registry (lint cannot know: it warns). A step run as another user cannot write
 * the file. Such steps that name a service should use localhost instead.
 */
function lintUnresolvedNames(p: ParsedPipeline, all: Located[], out: Findings): void {
  const names = [...new Set([...p.pipeline.services.map((s) => s.name), ...p.pipeline.steps.filter((s) => s.detach).map((s) => s.name)])];
  if (names.length === 0) return;
  const nameSet = new Set(names);
  const odd = names.filter((n) => !/^[A-Za-z0-9._-]+$/.test(n)).map((n) => ({ name: n, pattern: new RegExp(`(^|[^A-Za-z0-9._-])${escapeRegExp(n)}($|[^A-Za-z0-9_-])`) }));
  for (const s of all) {
    spend(1, PHASE);
    if (s.service) continue;
    // An image build step runs a wrapper (image-build.ts), which writes the names like any step's.
    const plugin = isPlugin(s.step) && !mayReceiveSecrets(s.step, p.pipeline) && !hasEntrypoint(s.step);
    if (isPlugin(s.step) && !plugin) continue;
    const otherUser = !plugin && s.step.user !== undefined && !/^(root|0)(:|$)/.test(s.step.user);
    if (!plugin && !otherUser) continue;
    const text = [
      ...Object.values(s.step.settings).map((v) => ('value' in v ? JSON.stringify(v.value) : '')),
      ...Object.values(s.step.environment).map((v) => ('value' in v ? v.value : '')),
      ...s.step.commands,
    ].join('\n');
    const named = namesIn(text, nameSet, odd);
    const used = names.filter((n) => n !== s.step.name && named.has(n));
    if (used.length === 0) continue;
    const list = used.map((n) => `"${n}"`).join(', ');
    if (plugin) {
      out.warn(valuePos(s.source, 'image'), s.path, `${LINT.serviceNamesUnresolved}: "${s.step.name}" names ${list} but its launcher adds ${used.length > 1 ? 'them' : 'it'} to its /etc/hosts only if the planner can read the image's command line from its registry (else the image's entrypoint runs as it is); use localhost, which always works (the containers of one task share it), or give the step its entrypoint:`);
    } else {
      out.warn(keyPos(s.source, 'user'), `${s.path}.user`, `${LINT.serviceNamesUnresolved}: "${s.step.name}" names ${list} but runs as ${s.step.user}, who cannot write /etc/hosts; use localhost (the containers of one task share it)`);
    }
  }
}

/**
 * The names that `text` mentions as a host: not preceded by a name character or a dot,
 * not followed by a name character (`db:5432`, `db.` and `@db` name db; `mydb`, `x.db`
 * do not). One pass over the text with set lookups, so a file with thousands of
 * services and steps stays linear; `odd` holds names with other characters, tested
 * one by one.
 */
function namesIn(text: string, names: ReadonlySet<string>, odd: readonly { name: string; pattern: RegExp }[]): Set<string> {
  spend(1 + (text.length >> 3) + odd.length * (1 + (text.length >> 4)), PHASE);
  const found = new Set<string>();
  for (const match of text.matchAll(/[A-Za-z0-9._-]+/g)) {
    const run = match[0];
    // A name starts the run and ends at its end or before a dot.
    for (let dot = run.indexOf('.'); dot !== -1 && dot <= MAX_NAME_LENGTH; dot = run.indexOf('.', dot + 1)) {
      if (names.has(run.slice(0, dot))) found.add(run.slice(0, dot));
    }
    if (names.has(run)) found.add(run);
  }
  for (const { name, pattern } of odd) if (pattern.test(text)) found.add(name);
  return found;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The compiler's own count (pack.ts). Lint does not know the build, so it counts every
 * step that can run: an error when that is what every build runs, a warning when `when:`
 * conditions may leave steps out.
 */
function lintContainerCount(p: ParsedPipeline, out: Findings, splitPipelines: boolean, all: readonly Located[]): void {
  const { pipeline } = p;
  const units: PackUnit[] = [];
  for (const step of pipeline.steps) {
    const kind = stepKind(step);
    if (kind) units.push({ steps: [step], kind });
  }
  const linear = !pipeline.steps.some((s) => s.dependsOn.length > 0);
  const fit = fitContainers(pipeline.services.length, units, linear);
  if (fit.after <= MAX_CONTAINERS) return;
  const conditional = pipeline.steps.some((s) => (Object.keys(s.when) as (keyof Conditions)[]).some((k) => k !== 'status' && (s.when[k].include.length > 0 || s.when[k].exclude.length > 0)));
  const pos = keyPos(p.source, 'steps');
  // Where the deployment splits such pipelines, one the cut can split runs as consecutive
  // tasks (segments.ts): what the user should know is that, and what it costs.
  const cut = splitPipelines ? segments(pipeline) : undefined;
  if (cut?.kind === 'split') {
    const tasks = cut.segments.length;
    out.note(
      pos,
      'steps',
      `${LINT.splitIntoTasks}: pipeline "${pipeline.name}" needs ${fit.after} containers${conditional ? ' when all of its steps run' : ''} but ECS allows ${MAX_CONTAINERS} per task, ` +
        `so it runs as ${tasks} consecutive tasks of one stage, each starting from the workspace and step results the one before left` +
        `${cut.serviceTask ? ', its services and detached steps in a task of their own beside them' : ''} ` +
        `(each further task costs a task start and the workspace snapshot's upload and download; docs/design/split-pipelines.md)`,
    );
    if (cut.serviceTask) lintLocalhostAcrossTasks(pipeline, all, out);
    return;
  }
  const why = cut ? `; it cannot be split into several tasks either: ${splitRefusal(cut)}` : '';
  const message = `${LINT.tooManyContainers}: pipeline "${pipeline.name}" ${tooManyContainersMessage(fit, pipeline.services.length, units.length, linear)}${why}`;
  if (conditional) out.warn(pos, 'steps', `${message} (when all of its steps run; \`when:\` conditions may leave some out)`);
  else out.error(pos, 'steps', message);
}

/**
 * A split pipeline's services run in a task of their own, so `localhost:5432` reaches
 * nothing in a step (the step's own task): a step that names localhost or 127.0.0.1 with
 * a service's port, in a command or an environment value, gets a warning with the name to use.
 */
function lintLocalhostAcrossTasks(pipeline: Pipeline, all: readonly Located[], out: Findings): void {
  const uses = new Map(localhostUses(pipeline).map((u) => [u.step, u] as const));
  for (const s of all) {
    const use = uses.get(s.step);
    if (s.service || !use) continue;
    out.warn(valuePos(s.source, s.step.commands.length > 0 ? 'commands' : 'environment'), s.path, `${LINT.localhostAcrossTasks}: ${localhostUseMessage(use)}`);
  }
}

/** A step that names localhost (or 127.0.0.1) with the port of a service (or detached step): what it means across tasks. */
export interface LocalhostUse {
  step: Step;
  port: number;
  service: string;
}

/** The steps of `pipeline` that name localhost or 127.0.0.1 with a service's port, in a command, an environment value or a setting. */
export function localhostUses(pipeline: Pipeline): LocalhostUse[] {
  const portOf = new Map<number, string>();
  for (const svc of [...pipeline.services, ...pipeline.steps.filter((s) => s.detach)]) for (const port of svc.ready?.ports ?? []) if (!portOf.has(port)) portOf.set(port, svc.name);
  if (portOf.size === 0) return [];
  const loopback = /(^|[^A-Za-z0-9.-])(localhost|127\.0\.0\.1)(?![A-Za-z0-9-])/;
  const out: LocalhostUse[] = [];
  for (const step of pipeline.steps) {
    if (step.detach) continue;
    spend(1, PHASE);
    const texts = [...step.commands, ...Object.values(step.environment).map((v) => ('value' in v ? v.value : '')), ...Object.values(step.settings).map((v) => ('value' in v ? JSON.stringify(v.value) : ''))];
    const hit = texts.filter((t) => loopback.test(t)).flatMap((t) => [...portOf].filter(([port]) => new RegExp(`(^|[^0-9])${port}(?![0-9])`).test(t)))[0];
    if (hit) out.push({ step, port: hit[0], service: hit[1] });
  }
  return out;
}

export function localhostUseMessage(use: LocalhostUse): string {
  return `"${use.step.name}" names localhost with port ${use.port} of "${use.service}", but this pipeline runs as several tasks with its services in a task of their own: use the name ("${use.service}:${use.port}")`;
}

function lintNames(p: ParsedPipeline, all: Located[], out: Findings): void {
  const seen = new Map<string, Located>();
  for (const s of all) {
    const { name } = s.step;
    if (name === '') continue; // reported by the parser
    const namePos = valuePos(s.source, 'name');
    const path = `${s.path}.name`;
    if (!/[A-Za-z0-9]/.test(name) || /[\u0000-\u001f\u007f]/.test(name) || name.length > MAX_NAME_LENGTH) {
      out.error(namePos, path, `${LINT.unsafeName}: "${truncate(name)}" (use up to ${MAX_NAME_LENGTH} characters with at least one letter or digit, no control characters)`);
    }
    // Drone refuses it as well: drone-runner-docker's linter (engine/linter/linter.go,
    // checkSteps) counts "clone" among the names taken while the clone is on, for services and
    // steps alike, and fails the stage with "linter: duplicate step names" before compiling.
    if (name === 'clone' && !p.pipeline.clone.disable) {
      out.error(namePos, path, `${LINT.reservedStepName}: "clone" is the clone step's name, which Drone refuses too ("linter: duplicate step names"); rename this ${s.service ? 'service' : 'step'} or set clone: { disable: true }`);
    }
    const first = seen.get(name);
    if (first) {
      out.error(namePos, path, `${LINT.duplicateStep} "${name}" (first at line ${first.source.pos.line}); steps and services share one set of names`);
    } else {
      seen.set(name, s);
    }
  }
}

function lintDependencies(p: ParsedPipeline, all: Located[], out: Findings): void {
  const stepNames = new Set(p.pipeline.steps.map((s) => s.name));
  // Drone lets a step wait for a service or for the clone; both are done before steps start.
  const targets = new Set([...stepNames, ...p.pipeline.services.map((s) => s.name)]);
  if (!p.pipeline.clone.disable) targets.add('clone');
  for (const s of all) {
    const deps = entry(s.source, 'depends_on')?.value;
    if (s.service) {
      if (s.step.dependsOn.length > 0) out.warn(keyPos(s.source, 'depends_on'), `${s.path}.depends_on`, `${LINT.serviceDependsOn}: services start with the task, before any step`);
      continue;
    }
    s.step.dependsOn.forEach((dep, i) => {
      if (targets.has(dep)) return;
      const pos = deps?.kind === 'seq' ? (deps.items[i]?.pos ?? deps.pos) : s.source.pos;
      const suggestion = closest(dep, targets);
      out.error(pos, `${s.path}.depends_on[${i}]`, `${LINT.unknownStep} "${dep}"${suggestion ? ` — did you mean "${suggestion}"?` : ''}`);
    });
  }
  const steps = all.filter((s) => !s.service);
  const byName = new Map(steps.map((s) => [s.step.name, s]));
  for (const cycle of findCycles(steps.map((s) => s.step.name), (name) => byName.get(name)?.step.dependsOn ?? [])) {
    const first = byName.get(cycle[0]!)!;
    out.error(keyPos(first.source, 'depends_on'), `${first.path}.depends_on`, `${LINT.stepCycle}: ${cycle.join(' → ')}`);
  }
}

function lintVolumes(p: ParsedPipeline, all: Located[], out: Findings): void {
  const volumesNode = entry(p.source, 'volumes')?.value;
  const volumeSources = volumesNode?.kind === 'seq' ? volumesNode.items : [];
  const names = new Set<string>();
  volumeSources.forEach((node, i) => {
    if (node.kind !== 'map') return;
    const path = `volumes[${i}]`;
    const name = scalar(entry(node, 'name')?.value);
    if (name !== undefined) {
      if (names.has(name)) out.error(valuePos(node, 'name'), `${path}.name`, `${LINT.duplicateVolume} "${name}"`);
      names.add(name);
      if (RESERVED_VOLUMES.has(name)) out.error(valuePos(node, 'name'), `${path}.name`, `${LINT.reservedVolume}: "${name}" is used by Slipway; choose another name`);
    }
    const host = entry(node, 'host');
    if (host) {
      const hostPath = host.value.kind === 'map' ? scalar(entry(host.value, 'path')?.value) : undefined;
      if (hostPath !== undefined && isDockerSocket(hostPath)) {
        out.error(host.keyPos, `${path}.host`, `${LINT.dockerSocket} (no ${hostPath}); build images with plugins/docker, which Slipway runs without privileges (kaniko)${EC2_ADVICE}`);
      } else {
        out.error(host.keyPos, `${path}.host`, `${LINT.hostVolume}; use "temp: {}" for a volume the steps share`);
      }
    }
    const temp = entry(node, 'temp')?.value;
    if (temp?.kind === 'map' && scalar(entry(temp, 'medium')?.value) === 'memory') {
      out.warn(valuePos(temp, 'medium'), `${path}.temp.medium`, `${LINT.ignoredOption}: Fargate has no in-memory volumes; this volume is disk-backed`);
    }
  });
  for (const s of all) {
    const mounts = entry(s.source, 'volumes')?.value;
    s.step.volumes.forEach((mount, i) => {
      const node = mounts?.kind === 'seq' ? mounts.items.filter((m) => m.kind === 'map')[i] : undefined;
      const pos = node?.kind === 'map' ? valuePos(node, 'name') : s.source.pos;
      const path = `${s.path}.volumes[${i}]`;
      if (isDockerSocket(mount.path)) {
        out.error(pos, path, `${LINT.dockerSocket} to mount at ${mount.path}; build images with plugins/docker, which Slipway runs without privileges (kaniko)${EC2_ADVICE}`);
      } else if (RESERVED_VOLUMES.has(mount.name)) {
        out.error(pos, path, `${LINT.reservedVolume}: "${mount.name}" is used by Slipway; the workspace is mounted in every step already`);
      } else if (!names.has(mount.name)) {
        const suggestion = closest(mount.name, names);
        out.error(pos, path, `${LINT.unknownVolume} "${mount.name}"${suggestion ? ` — did you mean "${suggestion}"?` : ''} (declare it under the pipeline's volumes: with temp: {})`);
      }
      if (RESERVED_PATHS.some((r) => isUnder(mount.path, r))) {
        out.error(pos, path, `${LINT.reservedPath}: ${mount.path} is reserved for the runner; mount elsewhere`);
      }
    });
  }
}

/** `node: { capacity: … }` is Slipway's: warm (EC2 when the repository may) or fargate. */
function lintCapacity(p: ParsedPipeline, out: Findings): void {
  const capacity = p.pipeline.node.capacity;
  if (capacity === undefined || (CAPACITY_PREFERENCES as readonly string[]).includes(capacity)) return;
  const node = entry(p.source, 'node')?.value;
  const at = node?.kind === 'map' ? valuePos(node, 'capacity') : p.pipeline.pos;
  const suggestion = closest(capacity, CAPACITY_PREFERENCES);
  out.error(at, 'node.capacity', `${LINT.unknownValue} "${capacity}" (expected ${CAPACITY_PREFERENCES.join(' or ')})${suggestion ? ` — did you mean "${suggestion}"?` : ''}`);
}

function lintPorts(all: Located[], out: Findings): void {
  const owners = new Map<number, Located>();
  for (const s of all) {
    if (!s.step.ready) continue;
    const ready = entry(s.source, 'ready')?.value;
    const readyPorts = ready?.kind === 'map' ? entry(ready, 'ports')?.value : undefined;
    const portsNode = readyPorts ?? entry(s.source, 'ports')?.value;
    const declared = portsNode !== undefined;
    const declaredPath = readyPorts ? '.ready.ports' : '.ports';
    for (const port of new Set(s.step.ready.ports)) {
      const first = owners.get(port);
      if (!first) {
        owners.set(port, s);
        continue;
      }
      const portNode = portsNode?.kind === 'seq' ? portsNode.items.find((n) => portOf(n) === port) : undefined;
      const pos = declared ? (portNode ?? portsNode).pos : valuePos(s.source, 'image');
      const how = declared ? '' : ` (the default port of ${s.step.image})`;
      out.error(
        pos,
        `${s.path}${declared ? declaredPath : ''}`,
        `${LINT.portConflict}: "${s.step.name}" and "${first.step.name}" cannot both listen on localhost:${port}${how}; ` +
          'the containers of one task share one network — run one on another port and declare it in ready: { ports: [...] }',
      );
    }
  }
}

function portOf(node: SourceNode): unknown {
  if (node.kind === 'scalar') return node.value;
  if (node.kind === 'map') {
    const port = entry(node, 'port')?.value;
    return port?.kind === 'scalar' ? port.value : undefined;
  }
  return undefined;
}

function lintStep(s: Located, out: Findings): void {
  const { step, source, path } = s;
  if (step.privileged && !imageBuildKind(step)) {
    out.error(valuePos(source, 'privileged'), `${path}.privileged`, `${LINT.privileged}; build images with plugins/docker, which Slipway runs without privileges (kaniko)${EC2_ADVICE}`);
  }
  const repository = step.image ? imageRepository(step.image) : '';
  const buildPluginWithCommands = step.commands.length > 0 && imageBuildKind({ image: step.image, commands: [] }) !== undefined;
  if (needsDockerDaemon(step)) {
    const advice = buildPluginWithCommands
      ? `drop commands: and give settings: (repo, tags, …): Slipway runs ${repository} without a daemon (kaniko)`
      : 'build images with plugins/docker, which Slipway runs without a daemon (kaniko)';
    out.error(valuePos(source, 'image'), `${path}.image`, `${LINT.dockerDaemon} for ${step.image} (it runs privileged); ${advice}${EC2_ADVICE}`);
  }
  for (const key of UNSUPPORTED_STEP_KEYS) {
    const e = entry(source, key);
    if (!e) continue;
    const advice = UNSUPPORTED_ADVICE[key];
    if (advice.severity === 'error') out.error(e.keyPos, `${path}.${key}`, `${LINT.unsupportedOption}: ${advice.why}`);
    else out.warn(e.keyPos, `${path}.${key}`, `${LINT.ignoredOption}: ${advice.why}`);
  }
  if (s.service && step.ready && step.ready.ports.length === 0 && step.ready.command === undefined && step.image !== '') {
    out.warn(
      valuePos(source, 'image'),
      path,
      `${LINT.noReadiness}: Slipway does not know the port of ${step.image}, so steps may start before "${step.name}" is ready; declare ready: { ports: [...] } or ready: { command: ... }`,
    );
  }
  if (s.service && step.detach) {
    out.warn(keyPos(source, 'detach'), `${path}.detach`, `${LINT.detachedService}; services always run in the background`);
  }
  for (const key of ['ready', 'ports']) {
    if (!s.service && !step.detach && entry(source, key)) {
      out.warn(keyPos(source, key), `${path}.${key}`, `${LINT.readyOnStep}; add detach: true to run "${step.name}" in the background`);
    }
  }
  const ports = entry(source, 'ports')?.value;
  if (ports?.kind === 'seq') {
    ports.items.forEach((item, i) => {
      const host = item.kind === 'map' ? entry(item, 'host') : undefined;
      if (host) out.warn(host.keyPos, `${path}.ports[${i}].host`, `${LINT.ignoredOption}: the containers of one task share localhost; there is no host port to map`);
    });
  }
  lintConditions(entry(source, 'when')?.value, step.when, `${path}.when`, out);
  lintResources(source, path, out);
  lintReadyTimeout(s, out);
}

function lintReadyTimeout(s: Located, out: Findings): void {
  const ready = s.step.ready;
  const node = entry(s.source, 'ready')?.value;
  if (!ready || node?.kind !== 'map' || !entry(node, 'timeout')) return;
  const at = valuePos(node, 'timeout');
  if (ready.command !== undefined && ready.timeout > MAX_READY_TIMEOUT.command) {
    out.error(
      at,
      `${s.path}.ready.timeout`,
      `${LINT.tooLarge}: ${ready.timeout} s; a readiness command becomes an ECS health check whose start period is at most ${MAX_READY_TIMEOUT.command} s (set a timeout of ${MAX_READY_TIMEOUT.command} or less)`,
    );
  } else if (s.service && ready.command === undefined && ready.timeout > MAX_READY_TIMEOUT.ports) {
    out.error(at, `${s.path}.ready.timeout`, `${LINT.tooLarge}: ${ready.timeout} s; the agent checks the ports within its own health check's start period, at most ${MAX_READY_TIMEOUT.ports} s with the clone (set a timeout of ${MAX_READY_TIMEOUT.ports} or less)`);
  }
}

const UNSUPPORTED_ADVICE: Record<(typeof UNSUPPORTED_STEP_KEYS)[number], { severity: 'error' | 'warning'; why: string }> = {
  devices: { severity: 'error', why: 'Fargate cannot map host devices into a container' },
  dns: { severity: 'error', why: 'Fargate tasks use the VPC resolver; custom DNS servers cannot be set per container' },
  dns_search: { severity: 'error', why: 'Fargate tasks use the VPC resolver; DNS search domains cannot be set per container' },
  extra_hosts: { severity: 'error', why: 'ECS does not allow extra hosts with awsvpc; services and detached steps are reachable by name already' },
  network_mode: { severity: 'error', why: 'all containers of a Fargate task share one awsvpc network' },
  shm_size: { severity: 'warning', why: 'Fargate does not set the shared memory size; /dev/shm keeps its default' },
  mem_limit: { severity: 'warning', why: 'use resources: { memory: MiB } instead' },
  memswap_limit: { severity: 'warning', why: 'Fargate has no swap' },
};

function lintConditions(node: SourceNode | undefined, conditions: Conditions, path: string, out: Findings): void {
  if (node?.kind !== 'map') return;
  for (const field of CONDITION_FIELDS) {
    const e = entry(node, field);
    if (!e) continue;
    for (const value of [...conditions[field].include, ...conditions[field].exclude]) {
      spend(1, PHASE);
      if (value.length <= MAX_PATTERN_LENGTH) continue;
      out.error(e.value.pos, `${path}.${field}`, `${LINT.patternTooLong}: ${value.length} characters, at most ${MAX_PATTERN_LENGTH} (starts ${truncate(value)})`);
    }
  }
  const check = (field: 'event' | 'status', allowed: string[]) => {
    const e = entry(node, field);
    if (!e) return;
    for (const value of [...conditions[field].include, ...conditions[field].exclude]) {
      if (allowed.includes(value) || /[*?[{]/.test(value)) continue;
      const suggestion = closest(value, allowed);
      out.warn(e.value.pos, `${path}.${field}`, `${LINT.unknownValue} "${value}" (expected ${allowed.join(', ')})${suggestion ? ` — did you mean "${suggestion}"?` : ''}`);
    }
  };
  check('event', EVENTS);
  check('status', STATUSES);
}

function lintResources(source: SourceMap, path: string, out: Findings): void {
  const resources = entry(source, 'resources')?.value;
  if (resources?.kind !== 'map') return;
  for (const key of ['cpu', 'memory'] as const) {
    const e = entry(resources, key);
    const value = e?.value.kind === 'scalar' ? e.value.value : undefined;
    if (typeof value === 'number' && value > FARGATE_MAX[key]) {
      const unit = key === 'cpu' ? `${FARGATE_MAX.cpu} CPU units (16 vCPU)` : `${FARGATE_MAX.memory} MiB (120 GiB)`;
      out.error(e!.value.pos, `${path ? `${path}.` : ''}resources.${key}`, `${LINT.tooLarge}: at most ${unit} per task`);
    }
  }
  const storage = entry(resources, 'storage');
  const gib = storage ? storageGiB(storage.value) : undefined;
  if (path === '' && gib !== undefined) {
    const { min, max } = EPHEMERAL_STORAGE;
    if (gib > max) {
      out.error(storage!.value.pos, 'resources.storage', `${LINT.tooLarge}: ${gib} GiB; a task's ephemeral storage is at most ${max} GiB (for more, keep caches in S3 or EFS)`);
    } else if (gib < min) {
      out.error(
        storage!.value.pos,
        'resources.storage',
        `${LINT.tooSmall}: ${gib} GiB; ECS accepts ${min} to ${max} GiB (without resources.storage every task has ${EPHEMERAL_STORAGE.default} GiB)`,
      );
    }
  }
}

/** The GiB of a `resources.storage` the parser accepted (`50`, `50Gi`), else undefined. */
function storageGiB(node: SourceNode): number | undefined {
  if (node.kind !== 'scalar') return undefined;
  if (typeof node.value === 'number' && Number.isInteger(node.value)) return node.value;
  const m = typeof node.value === 'string' ? /^\s*(\d+)\s*(Gi|GiB)\s*$/.exec(node.value) : null;
  return m ? Number(m[1]) : undefined;
}

function lintPipelineGraph(parsed: ParsedFile, out: Findings): void {
  const seen = new Map<string, ParsedPipeline>();
  for (const p of parsed.pipelines) {
    const first = seen.get(p.pipeline.name);
    if (first) {
      out.error(valuePos(p.source, 'name'), 'name', `${LINT.duplicatePipeline} "${p.pipeline.name}" (first at line ${first.pipeline.pos.line})`);
    } else {
      seen.set(p.pipeline.name, p);
    }
  }
  const skipped = new Map(parsed.skipped.map((s) => [s.skipped.name, s.skipped]));
  // Lint knows no build: only pipelines of other runners and platforms are skipped here.
  const graph = pipelineGraph([
    ...parsed.pipelines.map((p) => ({ name: p.pipeline.name, dependsOn: p.pipeline.dependsOn })),
    ...parsed.skipped.map((s) => ({ name: s.skipped.name, dependsOn: s.skipped.dependsOn, skipped: s.skipped.reason })),
  ]);
  for (const s of parsed.skipped) {
    const docker = seen.get(s.skipped.name);
    if (!docker) continue;
    const [first, later] = docker.pipeline.pos.line < s.pos.line ? [docker.pipeline.pos, s.pos] : [s.pos, valuePos(docker.source, 'name')];
    out.error(later, 'name', `${LINT.duplicatePipeline} "${s.skipped.name}" (first at line ${first.line})`);
  }
  for (const p of parsed.pipelines) {
    const deps = entry(p.source, 'depends_on')?.value;
    p.pipeline.dependsOn.forEach((dep, i) => {
      const pos = deps?.kind === 'seq' ? (deps.items[i]?.pos ?? deps.pos) : p.source.pos;
      const path = `depends_on[${i}]`;
      if (seen.has(dep)) return;
      const other = skipped.get(dep);
      if (other) {
        // Drone drops a skipped pipeline from the graph (pipeline-graph.ts): not an error.
        const { dependsOn } = graph.dependenciesOf(p.pipeline.name);
        const instead = dependsOn.length > 0 ? `waits for ${dependsOn.map((n) => `"${n}"`).join(', ')}` : 'starts with the build';
        out.note(pos, path, `${LINT.skippedDependency}: "${dep}" is skipped (${other.reason}), so "${p.pipeline.name}" does not wait for it and ${instead}, as in Drone`);
        return;
      }
      const suggestion = closest(dep, [...seen.keys(), ...skipped.keys()]);
      out.error(pos, path, `${LINT.unknownPipeline} "${dep}"${suggestion ? ` — did you mean "${suggestion}"?` : ''}`);
    });
  }
  // Cycles through skipped pipelines too: their dependents inherit their depends_on, so a
  // cycle through one would leave a stage waiting for itself (Drone rejects any cycle).
  const edges = (name: string) => seen.get(name)?.pipeline.dependsOn ?? skipped.get(name)?.dependsOn ?? [];
  for (const cycle of findCycles([...seen.keys(), ...skipped.keys()], edges)) {
    const docker = cycle.find((name) => seen.has(name));
    // A cycle of skipped pipelines alone is their runners' to report: Slipway runs none of them.
    if (docker === undefined) continue;
    const from = cycle.indexOf(docker);
    const rotated = [...cycle.slice(from, -1), ...cycle.slice(0, from), docker];
    out.error(keyPos(seen.get(docker)!.source, 'depends_on'), 'depends_on', `${LINT.pipelineCycle}: ${rotated.join(' → ')}`);
  }
}

function lintSecrets(parsed: ParsedFile, out: Findings): void {
  const seen = new Map<string, Position>();
  for (const { secret, source } of parsed.secrets) {
    const first = seen.get(secret.name);
    // Drone reads the first `kind: secret` document of a name and never looks further
    // (drone/runner-go secret/external.go getExternal), and no linter of Drone's rejects a
    // repeat: a warning, and the compiler reads the first one too (secret-refs.ts).
    if (first) {
      out.warn(valuePos(source, 'name'), 'name', `${LINT.duplicateSecret} "${secret.name}" (first at line ${first.line}): as in Drone, the first document of a name is the one read, so this one is ignored`);
    } else {
      seen.set(secret.name, secret.pos);
    }
    if (secret.data !== undefined) {
      out.error(
        keyPos(source, 'data'),
        'data',
        `${LINT.encryptedSecret}; store "${secret.name}" in Slipway's secret store (SSM Parameter Store) and use from_secret: ${secret.name} in the step`,
      );
    }
  }
}

/**
 * Each dependency cycle once, as names from a node back to itself (`a → b → a`).
 * Iterative, so a long chain cannot overflow the stack.
 */
export function findCycles(nodes: readonly string[], edges: (node: string) => readonly string[]): string[][] {
  const known = new Set(nodes);
  const state = new Map<string, 'active' | 'done'>();
  const cycles: string[][] = [];
  for (const start of nodes) {
    if (state.has(start)) continue;
    const stack: { node: string; next: number }[] = [{ node: start, next: 0 }];
    state.set(start, 'active');
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const targets = edges(top.node);
      if (top.next >= targets.length) {
        state.set(top.node, 'done');
        stack.pop();
        continue;
      }
      const target = targets[top.next++]!;
      if (!known.has(target)) continue;
      const s = state.get(target);
      spend(1, PHASE);
      if (s === 'active') {
        spend(stack.length, PHASE);
        const from = stack.findIndex((f) => f.node === target);
        cycles.push([...stack.slice(from).map((f) => f.node), target]);
      } else if (s === undefined) {
        state.set(target, 'active');
        stack.push({ node: target, next: 0 });
      }
    }
  }
  return cycles;
}

function scalar(node: SourceNode | undefined): string | undefined {
  return node?.kind === 'scalar' && node.value !== null ? node.text : undefined;
}

/** Whether `path`, once `//`, `.` and `..` are resolved, is `root` or lies below it. */
function isUnder(path: string, root: string): boolean {
  const clean = normalizePath(path);
  return clean === root || clean.startsWith(`${root}/`);
}

function truncate(text: string): string {
  const printable = text.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return printable.length > 40 ? `${printable.slice(0, 40)}…` : printable;
}
