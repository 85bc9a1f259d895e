// A step's commands as the POSIX sh script its container runs (like drone-runner-docker's
// script.go, plus what Fargate needs: service names in /etc/hosts, an exit record for
// the agent, a status gate and secret masking). Portable sh only: step images may be
// busybox or dash with no node or python.
//
// The script reaches the container as `entryPoint: ["/bin/sh", "-c"], command: [script]`
// rather than Drone's DRONE_SCRIPT variable: `sh -c` needs no file and no `eval`, and the
// script does not end up in the environment every child process of the step inherits.

import { EARLY_EXIT_CODE, ENV_FILE, SERVICES_HOST_FILE, SETUP_RECORD, SETUP_SKIPPED_EXIT_CODE, STATUS_ENDED_VAR, STATUS_FILE, STATE_DIR, STEP_RECORD_DIR, STEP_SKIPPED_SUFFIX, STEP_STARTED_SUFFIX, STEP_UNREACHABLE_SUFFIX, STEP_UP_SUFFIX } from './contract.js';
import { maskFunction } from './mask.js';
import { earlierFailureLines } from './segment-script.js';
import { shellQuote } from './shell-quote.js';
import { SHELL_NAME } from './secret-names.js';

export interface ScriptStep {
  name: string;
  commands: string[];
  /** Literal variables exported for this step only (packed containers differ per step). */
  exports?: Record<string, string>;
}

export interface ScriptInput {
  /** The container's name: names its exit record. */
  container: string;
  /** The steps this container runs in order: one, or several when packed. */
  steps: ScriptStep[];
  /** Where the commands run (the workspace, or the step's working directory). */
  workdir: string;
  /** Host names mapped to 127.0.0.1: services and detached steps. */
  hosts: string[];
  /** A segment of a split pipeline: `hosts` are mapped to the service task's IP (SERVICES_HOST_FILE) instead. */
  hostsRemote?: boolean;
  /** Names of environment variables holding secrets: their values are masked in the output. */
  secretEnv: string[];
  /**
   * Names the step sets itself (the pipeline's and the step's `environment:`, secrets
   * included): they win over the per-run env file, which is sourced after the container
   * starts, as Drone applies a step's environment last.
   */
  ownEnv?: string[];
  /**
   * Present for steps that run only while the build is failing (`when: status: [failure]`):
   * the containers whose non-zero exit record means the build is failing.
   */
  gate?: { watch: string[] };
  /**
   * Present for steps with a status condition (on failure, or always): the containers
   * that must have ended (or be known never to start) before the step decides and runs.
   * ECS cannot express that wait (see step-order.ts), so the wrapper does it.
   */
  waitFor?: string[];
  /**
   * Drone's early exit: once a step has exited 78, the steps still pending are skipped
   * (drone/runner-go pipeline/runtime/execer.go, SkipAll). 'skip' (the default): the step
   * skips itself when it starts after such an exit. 'run': it runs all the same, as a step
   * with `when: status: [success, failure]` does in Drone (its run policy "always" passes
   * the check that skips pending steps).
   */
  earlyExit?: 'skip' | 'run';
  /**
   * The detached step containers: their exit 78 skips nothing. Drone never reads a detached
   * step's exit code (runner-go pipeline/runtime/execer.go runs it in a goroutine and returns).
   */
  detached?: readonly string[];
  /**
   * A step that runs on a status (`when: status: [failure]`, or on success and failure): it
   * starts with the agent (ECS START, step-order.ts), not once the agent is healthy, so that
   * it runs after a failed clone too. It first waits for the agent's SETUP_RECORD, and only
   * then sources the env file the agent wrote; a non-zero record fails the build for its gate.
   */
  afterSetup?: boolean;
  /**
   * With afterSetup, for a step that runs while the build passes (AgentStepPlan.afterSetup):
   * a non-zero setup record (a failed clone, a service not ready) skips it, as Drone skips the
   * steps that run on success once the clone failed. It leaves `<container>.skipped` and exits
   * SETUP_SKIPPED_EXIT_CODE (ECS then starts none of its SUCCESS dependents).
   */
  skipAfterFailedSetup?: boolean;
  /**
   * A plain step with commands: the steps it comes after, with the condition ECS would have
   * waited on (step-order.ts). Its container starts with the task, so that its image pulls
   * at once (ECS pulls an image only once the container's dependsOn conditions hold), and
   * its wrapper waits here instead, reading their records as ECS would read their
   * containers (upstreamLines). When one can no longer be met the step is skipped: it leaves
   * `<container>.skipped` and exits SETUP_SKIPPED_EXIT_CODE, as after a failed setup.
   */
  upstream?: UpstreamEdge[];
  /**
   * This container names a step container in an ECS `START` dependsOn (compile.ts): its
   * wrapper writes `<container>.up` (STEP_UP_SUFFIX) first of all, which lets that upstream exit.
   */
  upMarker?: boolean;
  /**
   * The step containers that name this one in an ECS `START` dependsOn: once its commands have
   * ended and its exit record is written, the wrapper waits until each of them is up (or can
   * never start) before it exits with the commands' exit code (lingerLines).
   */
  startDependents?: string[];
  /**
   * A plain step in a later segment of a split pipeline: the step containers of earlier
   * segments whose failure skips it (segment-script.ts).
   */
  earlier?: string[];
}

/**
 * One step a plain step with commands comes after, and how its records are read:
 * `wrapped` — a step with commands, whose wrapper writes its own records (exit code
 * SETUP_SKIPPED_EXIT_CODE beside a `.skipped` marker: it never ran its commands);
 * `plugin` — a step without a wrapper: the agent writes its `.exit` from ECS's exit code,
 * its status gate (if any) its `.skipped`; `gated` — a plugin that runs only on failure,
 * whose gate ECS used to wait for with COMPLETE: any final record of it passes.
 */
export interface UpstreamEdge {
  container: string;
  condition: 'SUCCESS' | 'COMPLETE' | 'START';
  kind: 'wrapped' | 'plugin' | 'gated';
}

// Paths are relative to the state directory so that a test (or the local stand-in) can
// point SLIPWAY_STATE_DIR elsewhere and run the script without root.
const relative = (path: string): string => path.slice(STATE_DIR.length);
const STEPS = relative(STEP_RECORD_DIR);
const ENV = relative(ENV_FILE);
const STATUS = relative(STATUS_FILE);
const SETUP = relative(SETUP_RECORD);

/** A valid /etc/hosts name: anything else is left to `localhost`. */
const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/;

export function stepScript(input: ScriptInput): string {
  const { container } = input;
  const out: string[] = [];
  out.push(`# slipway: ${input.steps.map((s) => s.name).join(', ')} (container ${container})`);
  out.push(`slipway_state="\${SLIPWAY_STATE_DIR:-${STATE_DIR}}"`);
  // Its `.up` marker first of all: in its setup wait's first look, else on a line of its own.
  if (input.upMarker && !input.afterSetup) out.push(...upMarkerLines(container));
  out.push(...recordOnExit(container, input.startDependents ?? []));
  if (input.afterSetup) out.push(...setupWaitLines(input.upMarker ? container : undefined));
  if (input.afterSetup && input.skipAfterFailedSetup) out.push(...setupFailedSkipLines(container, input.steps[0]?.name ?? container));
  // Before the env and status files are sourced: the status a step sees is the one as its commands start.
  if (input.upstream && input.upstream.length > 0) out.push(...upstreamLines(input.upstream, container, input.steps[0]?.name ?? container));
  const own = [...new Set(input.ownEnv ?? [])].filter((name) => SHELL_NAME.test(name));
  out.push(...sourceEnvFile(own));
  out.push(...hostsLines(input.hosts, input.hostsRemote === true));
  if (input.waitFor && input.waitFor.length > 0) {
    out.push(...waitLines(input.waitFor, input.steps[0]?.name ?? container));
    out.push(...statusWaitLines(input.waitFor));
  }
  out.push(...finishedNowLines());
  if ((input.earlyExit ?? 'skip') === 'skip') out.push(...earlyExitLines(container, input.steps[0]?.name ?? container, input.detached));
  if (input.gate) out.push(...gateLines(input.gate.watch, container, input.steps[0]?.name ?? container));
  if (input.earlier) out.push(...earlierFailureLines(input.earlier, container, input.steps[0]?.name ?? container));
  if (input.afterSetup || (input.waitFor && input.waitFor.length > 0)) out.push(...startedLines(container));
  out.push(`cd "\${SLIPWAY_WORKSPACE:-${input.workdir}}" || exit 1`);

  const body = input.steps.flatMap((step) => stepBody(step, input.steps.length > 1));
  // 3 and 4 carry the exit status and the masked output; the user's commands must not see them.
  out.push(...waitedJob(['( exec 3>&- 4>&-', 'set -e', ...body, ')'], input.secretEnv));
  return `${out.join('\n')}\n`;
}

/**
 * Runs `subshell` (lines from `(` to `)`) as a background job the wrapper waits for (see
 * stopOnSignal), its output through the mask when there are secrets; the script then
 * exits with the job's status. A background job of a non-interactive sh reads stdin from
 * /dev/null; on ECS a container has no stdin, so nothing is lost.
 */
function waitedJob(subshell: string[], secretEnv: string[]): string[] {
  const out: string[] = [];
  // Every secret is masked, whatever its name: a plugin setting `api-key` arrives as
  // PLUGIN_API-KEY (Drone's encoding), which awk reads from ENVIRON (see maskFunction).
  const secrets = [...new Set(secretEnv)];
  if (secrets.length === 0) {
    out.push(...subshell.map((line, i) => (i === subshell.length - 1 ? `${line} &` : line)));
  } else {
    out.push(...maskFunction(secrets));
    // The job's output goes through the mask; its status comes back on fd 3, because a
    // pipeline's status is that of its last command (the mask). When the job ends, an end
    // line follows its output: the mask stops there instead of waiting for the end of the
    // pipe, which a background process of the step (`./server &`) would hold open for as
    // long as it lives. So the step ends when its commands end, as in Drone, where the
    // container's main process exiting ends it.
    out.push('exec 4>&1');
    // Unguessable, so that no line of the output can end the mask early (the pid is always 1).
    out.push('slipway_nonce=$$');
    out.push('if [ -r /proc/sys/kernel/random/uuid ]; then read -r slipway_nonce < /proc/sys/kernel/random/uuid || slipway_nonce=$$; fi');
    out.push(`slipway_end="::slipway-end-of-output-$slipway_nonce::"`);
    // Each of the wrapper's subshells outlives a stop signal (`trap :`, see stopOnSignal) so
    // that the job's status and its last output still come through; the job itself does not
    // (a subshell starts with the default action for every handled signal).
    out.push('( trap : TERM INT; slipway_status=$( trap : TERM INT; { { trap : TERM INT');
    out.push(
      ...subshell.map((line, i) => (i === subshell.length - 1 ? `${line} 2>&1; echo "$?" >&3; printf '%s\\n' "$slipway_end"; } | slipway_mask >&4; } 3>&1 )` : line)),
    );
    out.push('exit "${slipway_status:-1}" ) &');
  }
  out.push('slipway_job=$!', 'wait "$slipway_job"', 'exit $?');
  return out;
}

export interface PluginScriptInput {
  /** The container's name, for people reading the task definition. */
  container: string;
  /** The step's name. */
  name: string;
  /** Host names mapped to 127.0.0.1: services and detached steps. */
  hosts: string[];
  /** As ScriptInput.hostsRemote. */
  hostsRemote?: boolean;
  /** Names of environment variables holding secrets: their values are masked in the output (none: not masked). */
  secretEnv: string[];
  /** As ScriptInput.ownEnv: names the step sets itself, which the per-run env file does not replace. */
  ownEnv?: string[];
}

/**
 * The launcher of a plugin step (no commands: its image's own command line runs). It runs
 * under the shell the agent installs (contract.STATE_BUSYBOX, a static busybox), since the
 * image may have none (Drone's plugins are often built FROM scratch), and gets the image's
 * command line as its arguments: `sh -c SCRIPT NAME ARGV...`. So it uses shell builtins
 * only: the image's programs (grep, mkdir, …) may not exist.
 *
 * It sources the agent's per-run env file and status file as a step wrapper does, so the
 * build's DRONE_* variables reach the plugin without RunTask's overrides, which hold only
 * 8 KiB for the whole task (override-budget.ts): with them, every plugin step carried its own
 * copy. Then, without secrets, it execs the command line, so the plugin is the container's
 * main process with its signals and exit code, as without a launcher; with secrets, it runs
 * it with its output through the mask and ends with its exit status. The agent writes the
 * exit record, as for any container without a step wrapper.
 */
export function pluginScript(input: PluginScriptInput): string {
  const masked = input.secretEnv.length > 0;
  const out: string[] = [
    `# slipway: plugin step ${input.name} (container ${input.container}): ${masked ? 'its output is masked; ' : ''}the image's command line follows as "$@"`,
  ];
  out.push(`slipway_state="\${SLIPWAY_STATE_DIR:-${STATE_DIR}}"`);
  if (masked) out.push(...stopOnSignal());
  const own = [...new Set(input.ownEnv ?? [])].filter((name) => SHELL_NAME.test(name)).sort();
  out.push(...sourceEnvFile(own));
  out.push(...hostsLines(input.hosts, input.hostsRemote === true));
  out.push(...resolveProgram());
  if (masked) out.push(...waitedJob(['( exec 3>&- 4>&-', 'exec "$@"', ')'], input.secretEnv));
  else out.push('exec "$@"');
  return `${out.join('\n')}\n`;
}

/**
 * A program named without a slash (`["sh", "/entrypoint.sh"]`, `["drone-s3"]`) is looked up
 * in the image's PATH here and run by its path: busybox's sh may prefer its own applet of
 * that name to the image's program (FEATURE_SH_STANDALONE), which the image never meant.
 * Not found: left as it is, and exec says so (127).
 */
function resolveProgram(): string[] {
  return [
    'case $1 in',
    '  */*) ;;',
    '  *)',
    '    set -f; slipway_ifs=$IFS; IFS=:',
    '    for slipway_d in $PATH; do',
    '      if [ -f "${slipway_d:-.}/$1" ] && [ -x "${slipway_d:-.}/$1" ]; then',
    '        slipway_p=${slipway_d:-.}/$1; shift; set -- "$slipway_p" "$@"; break',
    '      fi',
    '    done',
    '    IFS=$slipway_ifs; set +f ;;',
    'esac',
  ];
}

function stepBody(step: ScriptStep, packed: boolean): string[] {
  const lines: string[] = [];
  if (packed) lines.push(`printf '%s\\n' ${shellQuote(`--- step ${step.name}`)}`);
  const exports = Object.entries(step.exports ?? {});
  const body = [
    ...exports.map(([name, value]) => `export ${name}=${shellQuote(value)}`),
    ...step.commands.flatMap((command) => [`printf '+ %s\\n' ${shellQuote(command)}`, command]),
  ];
  // Packed steps each get their own subshell so that one step's `cd` or exports do not
  // leak into the next, as if each ran in its own container; `set -e` stops at the first failure.
  return packed ? [...lines, '(', ...body, ')'] : body;
}

/**
 * Sources the agent's per-run env file (`export NAME='value'` lines) without letting it
 * replace what the step set itself: those values are saved before and exported again after.
 */
function sourceEnvFile(own: string[]): string[] {
  // The status file (the build's and stage's status as the agent last wrote it) goes after:
  // its values are the newer ones.
  const source = `if [ -f "$slipway_state${ENV}" ]; then . "$slipway_state${ENV}"; fi; if [ -f "$slipway_state${STATUS}" ]; then . "$slipway_state${STATUS}"; fi`;
  if (own.length === 0) return [source];
  const names = own.join(' ');
  return [
    String.raw`for slipway_n in ${names}; do eval "[ -z \"\${$slipway_n+set}\" ] || slipway_own_$slipway_n=\"\$$slipway_n\""; done`,
    source,
    String.raw`for slipway_n in ${names}; do eval "[ -z \"\${slipway_own_$slipway_n+set}\" ] || { export $slipway_n=\"\$slipway_own_$slipway_n\"; unset slipway_own_$slipway_n; }"; done`,
  ];
}

/**
 * Writes `<container>/<container>.exit` (its own record volume) whatever way the script ends
 * (the agent reads it); then, for a container others name in an ECS START, waits for them to
 * be up (lingerLines) before the container exits.
 */
function recordOnExit(container: string, startDependents: readonly string[]): string[] {
  const file = `"$slipway_state${STEPS}/${container}/${container}.exit"`;
  return [
    'slipway_record() {',
    '  slipway_rc=$?',
    '  trap - EXIT',
    `  if mkdir -p "$slipway_state${STEPS}/${container}" 2>/dev/null && { echo "$slipway_rc" > ${file}; } 2>/dev/null; then :; else`,
    `    echo ${shellQuote(`slipway: could not write the exit record of ${container}`)} >&2`,
    '  fi',
    ...lingerLines(startDependents).map((line) => `  ${line}`),
    '  exit "$slipway_rc"',
    '}',
    'trap slipway_record EXIT',
    ...stopOnSignal(startDependents.length > 0),
  ];
}

/**
 * Writes `<container>.up` (STEP_UP_SUFFIX) in its own record directory: its container names a
 * step container in an ECS START (ScriptInput.upMarker), which may exit once it is there
 * (lingerLines). `true`, not `:`: a failed redirection of a special built-in ends a
 * non-interactive shell (POSIX 2.8.1), and a wrapper whose image runs as another user than root
 * may start before the agent has opened the record directories to it
 * (task-runner/step-records.ts, openRecordDirs, the agent's first act, before it writes the
 * setup record): it is tried again at each look of the setup wait (setupWaitLines).
 */
function upMarkerWrite(container: string): string {
  // `;`, not `&&`: on ECS the directory is the container's own record volume, there already, so
  // an image without `mkdir` still writes it (mkdir is for a state directory set elsewhere).
  return `{ mkdir -p "$slipway_state${STEPS}/${container}"; true >"$slipway_state${STEPS}/${container}/${container}${STEP_UP_SUFFIX}"; } 2>/dev/null`;
}

/**
 * Once more after the look that found the setup record: a write that failed in that look may
 * have come just before the agent opened the directory and wrote the record, and without the
 * marker its upstream would stay up until the task stops.
 */
function upMarkerAfterSetup(container: string): string {
  return `${upMarkerWrite(container)} || :`;
}

/** The `.up` marker of a container that has no setup wait (a later segment's gate): tried until the setup record is there. */
export function upMarkerLines(container: string): string[] {
  return [`until ${upMarkerWrite(container)} || [ -s "$slipway_state${SETUP}" ]; do ${pollSleep()}; done`, upMarkerAfterSetup(container)];
}

/**
 * The end of a wrapper whose container other step containers name in an ECS START
 * (ScriptInput.startDependents), after its exit record: it waits until each of them has
 * written its `.up` marker (upMarkerWrite) or the agent's `.unreachable` (written once the agent
 * sees it stopped without ever starting: its pull failed, or ECS will never start it), then
 * exits with the commands' exit code. Before aws/amazon-ecs-agent commit 51e94bfbe ("START
 * dependency: return true if 'dependsOn' container's known status is STOPPED", September
 * 2023), the agent's agent/engine/dependencygraph/graph.go containerOrderingDependenciesIsResolved
 * meets START only while the upstream is RUNNING, at the dependent's pull, create and start
 * alike: an upstream that stopped while a dependent's image still pulled would leave that
 * dependent waiting for ever, not stopped by a terminal dependency error, and the build hung
 * until its timeout. Which agent Fargate runs cannot be told, so the upstream stays up for
 * both. The step's end is its exit record, written before this wait: its status and end time,
 * and every step that waits for it in its wrapper, are as without the wait. SIGTERM or SIGINT
 * (the task is stopping) ends the wait at the current look (at most one poll).
 */
function lingerLines(dependents: readonly string[]): string[] {
  if (dependents.length === 0) return [];
  const marker = (c: string, suffix: string) => `[ -f ${shellQuote(`${c}/${c}${suffix}`)} ]`;
  return [
    // Stopped by a signal already (slipway_stop): the task is stopping, no dependent will start.
    `if [ "$slipway_stopping" != yes ] && cd "$slipway_state${STEPS}" 2>/dev/null; then trap 'exit $slipway_rc' TERM INT`,
    ...[...new Set(dependents)].map((c) => `until ${marker(c, STEP_UP_SUFFIX)} || ${marker(c, STEP_UNREACHABLE_SUFFIX)}; do ${pollSleep()}; done`),
    'fi',
  ];
}

/** One pause between two looks at the records (SETUP_POLL_SECONDS; a whole second where `sleep` takes no fraction). */
function pollSleep(): string {
  return `sleep "\${SLIPWAY_WAIT_SECONDS:-${SETUP_POLL_SECONDS}}" 2>/dev/null || sleep 1`;
}

/**
 * SIGTERM (StopTask, a Spot interruption, a cancelled build) or SIGINT ends the step within
 * a moment, as Drone's runner stops a step. The wrapper is the container's PID 1, which
 * ignores a signal it has no handler for, and sh runs a trap only once the foreground
 * command has ended (`sleep 600` would run on until ECS's SIGKILL at stopTimeout). So the
 * commands run as a background job and the wrapper waits for it: a trapped signal
 * interrupts `wait`. The trap passes TERM on to every process of the container's process
 * group, which PID 1 leads (`kill 0`): the commands and their children, or the plugin,
 * which may clean up (a plugin that is PID 1 itself would get the signal too). The
 * wrapper's own subshells only note it (`trap :`) and the mask ignores it, so the output
 * of that clean-up is still masked and logged; the wrapper waits for the job to end, then
 * exits 143 (130 for INT) and the EXIT trap writes the exit record. A job that ignores
 * TERM runs on until ECS's SIGKILL at stopTimeout, as it would without a wrapper. TERM,
 * not INT, is passed on: background jobs of a non-interactive sh ignore SIGINT. Before the
 * job starts (the status wait) the wrapper exits once the current poll's sleep ends.
 */
function stopOnSignal(noteStop = false): string[] {
  return [
    'slipway_job=',
    // For lingerLines: a wrapper stopped by a signal does not wait for its dependents.
    ...(noteStop ? ['slipway_stopping=no'] : []),
    'slipway_stop() {',
    '  trap : TERM INT',
    ...(noteStop ? ['  slipway_stopping=yes'] : []),
    '  if [ -n "$slipway_job" ]; then',
    '    kill -TERM 0 2>/dev/null || :',
    '    while kill -0 "$slipway_job" 2>/dev/null; do wait "$slipway_job"; done',
    '  fi',
    '  exit "$1"',
    '}',
    "trap 'slipway_stop 143' TERM",
    "trap 'slipway_stop 130' INT",
  ];
}

/**
 * awsvpc forbids extraHosts: the names users expect (`redis-cli -h cache`) go into
 * /etc/hosts, unless the line is there already. Shell builtins only: a plugin's image may
 * have no grep (pluginScript). In a segment of a split pipeline (`remote`) the services run
 * in the service task: the names go to its IP, which the agent wrote before the step started
 * (it reports ready only after the services did); without it the step fails, never silently
 * reaching 127.0.0.1.
 */
function hostsLines(hosts: string[], remote = false): string[] {
  const names = [...new Set(hosts)].filter((h) => HOST_NAME.test(h) && h !== 'localhost');
  if (names.length === 0) return [];
  const address = remote
    ? [
        `slipway_svc=; read -r slipway_svc < "\${SLIPWAY_STATE_DIR:-${STATE_DIR}}${relative(SERVICES_HOST_FILE)}" || true`,
        `case $slipway_svc in *[!0-9a-fA-F.:]*|'') echo "slipway: the services' address is missing (${relative(SERVICES_HOST_FILE).slice(1)}): cannot reach ${names.join(', ')}" >&2; exit 1 ;; esac`,
        `slipway_hostline="$slipway_svc "${shellQuote(names.join(' '))}`,
      ]
    : [`slipway_hostline=${shellQuote(`127.0.0.1 ${names.join(' ')}`)}`];
  return [
    `slipway_hosts="\${SLIPWAY_HOSTS_FILE:-/etc/hosts}"`,
    ...address,
    'slipway_has=no',
    'if [ -r "$slipway_hosts" ]; then',
    '  while IFS= read -r slipway_h || [ -n "$slipway_h" ]; do',
    '    if [ "$slipway_h" = "$slipway_hostline" ]; then slipway_has=yes; fi',
    '  done < "$slipway_hosts"',
    'fi',
    'if [ "$slipway_has" = no ]; then',
    `  if { printf '%s\\n' "$slipway_hostline" >> "$slipway_hosts"; } 2>/dev/null; then :; else`,
    remote
      ? `    echo "slipway: cannot write $slipway_hosts: ${names.join(', ')} are at $slipway_svc" >&2`
      : `    echo "slipway: cannot write $slipway_hosts: reach ${names.join(', ')} at localhost" >&2`,
    '  fi',
    'fi',
  ];
}

/**
 * Seconds between two looks of a first step's wrapper at the setup record: the first step
 * begins at most this long after the agent's gate opens (a look every second cost half a second
 * at the median, bench/lib/ec2-start-model.ts). A fractional sleep is not in POSIX: GNU
 * coreutils and Alpine's busybox take it; a `sleep` that refuses it fails at once, and the
 * wrapper then sleeps a whole second instead of looping without a pause.
 */
export const SETUP_POLL_SECONDS = 0.2;

/**
 * The wait of a step that starts with the agent (ScriptInput.afterSetup): until the agent's
 * SETUP_RECORD is there and not empty. The clone and the service gate are over then, and the
 * env file and the status file are written (the agent writes them first).
 */
function setupWaitLines(upMarker?: string): string[] {
  // With `upMarker`, each look first writes that container's `.up` (upMarkerWrite): the first
  // is the wrapper's first act, the later ones cover a directory the agent had not opened yet.
  const mark = upMarker === undefined ? '' : `${upMarkerWrite(upMarker)}; `;
  const wait = `until ${mark}[ -s "$slipway_state${SETUP}" ]; do ${pollSleep()}; done`;
  return upMarker === undefined ? [wait] : [wait, upMarkerAfterSetup(upMarker)];
}

/**
 * After the setup wait of a step that runs while the build passes: a non-zero setup record
 * means the clone failed or a service was not ready, so the step is skipped (the agent
 * reports it with the setup's message).
 */
function setupFailedSkipLines(container: string, name: string): string[] {
  const dir = `"$slipway_state${STEPS}`;
  return [
    `slipway_v=; read -r slipway_v < "$slipway_state${SETUP}" || true`,
    'if [ "$slipway_v" != 0 ]; then',
    `  echo ${shellQuote(`slipway: skipping ${name}: the clone or a service failed (setup record `)}"$slipway_v)"`,
    `  mkdir -p ${dir}/${container}" 2>/dev/null; : > ${dir}/${container}/${container}${STEP_SKIPPED_SUFFIX}"`,
    `  exit ${SETUP_SKIPPED_EXIT_CODE}`,
    'fi',
  ];
}

/**
 * The wait of a plain step with commands for the steps it comes after (ScriptInput.upstream),
 * with ECS's rules for each condition read from their records
 * (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContainerDependency.html):
 * SUCCESS passes on an exit record of 0, COMPLETE on any exit record, START once the step's
 * commands started (`.started`) or it ended. A step that never ran its commands — `.unreachable`
 * (the agent's), or a wrapper's own skip (SETUP_SKIPPED_EXIT_CODE beside `.skipped`) — meets no
 * condition, as a container that never started meets none in ECS; a non-zero exit fails
 * SUCCESS. Either skips this step at once, as ECS stops a dependent whose SUCCESS dependency
 * failed; the agent reports it with the same reason as before (decide-steps.ts), reading the
 * same records. Looks every SETUP_POLL_SECONDS: the step begins at most that long after the
 * last of them ends. Shell builtins and `sleep` only.
 */
function upstreamLines(edges: UpstreamEdge[], container: string, name: string): string[] {
  const dir = `"$slipway_state${STEPS}`;
  const quoted = (e: UpstreamEdge) => `${shellQuote(e.container)} ${e.condition} ${e.kind}`;
  return [
    // 0: met; 1: can never be met (slipway_why says why); 2: not yet.
    'slipway_up() {',
    `  slipway_d=${dir}/$1"`,
    '  if [ -f "$slipway_d/$1.unreachable" ]; then slipway_why="$1 did not run"; [ "$3" = gated ] && return 0; return 1; fi',
    '  if [ -s "$slipway_d/$1.exit" ]; then',
    '    slipway_v=; read -r slipway_v < "$slipway_d/$1.exit" || true',
    `    if [ "$3" != plugin ] && [ "$slipway_v" = ${SETUP_SKIPPED_EXIT_CODE} ] && [ -f "$slipway_d/$1${STEP_SKIPPED_SUFFIX}" ]; then slipway_why="$1 did not run"; return 1; fi`,
    '    if [ "$2" != SUCCESS ] || [ "$slipway_v" = 0 ]; then return 0; fi',
    '    slipway_why="$1 exited $slipway_v"; return 1',
    '  fi',
    `  if [ "$2" = START ] && [ -f "$slipway_d/$1${STEP_STARTED_SUFFIX}" ]; then return 0; fi`,
    // A plugin's `.skipped` is its status gate's verdict (final); a wrapper's is followed by its exit record.
    `  if [ "$3" != wrapped ] && [ -f "$slipway_d/$1${STEP_SKIPPED_SUFFIX}" ]; then`,
    '    if [ "$2" = COMPLETE ]; then return 0; fi',
    '    slipway_why="$1 was skipped"; return 1',
    '  fi',
    '  return 2',
    '}',
    'slipway_said=no',
    'while :; do',
    '  slipway_pending=no; slipway_never=no',
    ...edges.map((e) => `  slipway_up ${quoted(e)}; case $? in 1) slipway_never=yes ;; 2) slipway_pending=yes ;; esac`),
    '  if [ "$slipway_never" = yes ]; then',
    `    echo ${shellQuote(`slipway: skipping ${name}: `)}"$slipway_why"`,
    `    mkdir -p ${dir}/${container}" 2>/dev/null; : > ${dir}/${container}/${container}${STEP_SKIPPED_SUFFIX}"`,
    `    exit ${SETUP_SKIPPED_EXIT_CODE}`,
    '  fi',
    '  if [ "$slipway_pending" = no ]; then break; fi',
    `  if [ "$slipway_said" = no ]; then echo ${shellQuote(`slipway: ${name} waits for ${[...new Set(edges.map((e) => e.container))].join(', ')}`)}; slipway_said=yes; fi`,
    `  ${pollSleep()}`,
    'done',
  ];
}

/**
 * The wait of a status-conditional step: until every container it comes after has a final
 * record. `<container>.exit` (non-empty: the wrapper may be caught mid-write) when it ran,
 * written by its wrapper or, for a container without one (a plugin), by the agent;
 * `.skipped` when its status gate skipped it; `.unreachable` when the agent knows it can
 * never start. Polls every SLIPWAY_WAIT_SECONDS (default 1, the agent's own pace).
 */
function waitLines(waitFor: string[], name: string): string[] {
  const dir = `"$slipway_state${STEPS}`;
  const list = [...new Set(waitFor)];
  return [
    `slipway_said=no`,
    `for slipway_c in ${list.map(shellQuote).join(' ')}; do`,
    `  until [ -s ${dir}/$slipway_c/$slipway_c.exit" ] || [ -f ${dir}/$slipway_c/$slipway_c${STEP_SKIPPED_SUFFIX}" ] || [ -f ${dir}/$slipway_c/$slipway_c${STEP_UNREACHABLE_SUFFIX}" ]; do`,
    `    if [ "$slipway_said" = no ]; then echo ${shellQuote(`slipway: ${name} waits for ${list.join(', ')} to end`)}; slipway_said=yes; fi`,
    `    sleep "\${SLIPWAY_WAIT_SECONDS:-1}"`,
    '  done',
    'done',
  ];
}

/**
 * After the wait of a status step: until the agent's status file accounts for every step it
 * waited for (the agent rewrites it each round, so at most one poll later), then sourced
 * again, so that DRONE_BUILD_STATUS, DRONE_FAILED_STEPS, … are those as the step starts. An
 * agent that writes no status file (an older one) is not waited for.
 */
function statusWaitLines(waitFor: string[]): string[] {
  const file = `"$slipway_state${STATUS}"`;
  const list = [...new Set(waitFor)];
  return [
    `if [ -f ${file} ]; then`,
    `  for slipway_c in ${list.map(shellQuote).join(' ')}; do`,
    '    while :; do',
    `      . ${file}`,
    `      case \${${STATUS_ENDED_VAR}-} in *" $slipway_c "*) break ;; esac`,
    `      sleep "\${SLIPWAY_WAIT_SECONDS:-1}"`,
    '    done',
    '  done',
    'fi',
  ];
}

/**
 * DRONE_BUILD_FINISHED and DRONE_STAGE_FINISHED are "now" while they run, as Drone gives them
 * (runner-go environ.go); the status file has the time it was written, used when the image
 * has no `date`.
 */
function finishedNowLines(): string[] {
  return [
    'if slipway_now=$(date +%s 2>/dev/null) && [ -n "$slipway_now" ]; then',
    '  export DRONE_BUILD_FINISHED="$slipway_now" DRONE_STAGE_FINISHED="$slipway_now" CI_BUILD_FINISHED="$slipway_now"',
    'fi',
  ];
}

/**
 * The early-exit check (see ScriptInput.earlyExit): a step that starts once another step has
 * an exit record of 78 is skipped — it leaves `<container>.skipped` and exits 0, as a status
 * gate's skip does. Shell builtins only; every container's own record counts.
 */
function earlyExitLines(container: string, name: string, detached: readonly string[] = []): string[] {
  const dir = `"$slipway_state${STEPS}`;
  return [
    // Each container's record in its own directory (`<c>/<c>.exit`); any other file is not a record.
    `for slipway_f in ${dir}"/*/*.exit; do`,
    '  [ -f "$slipway_f" ] || continue',
    '  slipway_c=${slipway_f##*/}; slipway_c=${slipway_c%.exit}; slipway_d=${slipway_f%/*}',
    '  [ "${slipway_d##*/}" = "$slipway_c" ] || continue',
    ...(detached.length > 0 ? [`  case $slipway_c in ${detached.map(shellQuote).join('|')}) continue ;; esac`] : []),
    '  slipway_v=; read -r slipway_v < "$slipway_f" || true',
    `  if [ "$slipway_v" = ${EARLY_EXIT_CODE} ]; then`,
    `    echo ${shellQuote(`slipway: skipping ${name}: `)}"$slipway_c"${shellQuote(` exited ${EARLY_EXIT_CODE}, so the rest of the pipeline is skipped`)}`,
    // The reason goes into the marker: the agent reports it (an empty marker reads as a status gate's skip).
    `    mkdir -p ${dir}/${container}" 2>/dev/null; printf '%s\\n' "$slipway_c"${shellQuote(` exited ${EARLY_EXIT_CODE}: the rest of the pipeline is skipped`)} > ${dir}/${container}/${container}${STEP_SKIPPED_SUFFIX}"`,
    '    exit 0',
    '  fi',
    'done',
  ];
}

/**
 * The step's commands start now: `<container>.started` (STEP_STARTED_SUFFIX) tells the agent
 * that a step which runs on a status has left its waits (until then it is pending, and a
 * cancel skips it), and when it started.
 */
function startedLines(container: string): string[] {
  const dir = `"$slipway_state${STEPS}`;
  return [`mkdir -p ${dir}/${container}" 2>/dev/null; : > ${dir}/${container}/${container}${STEP_STARTED_SUFFIX}" 2>/dev/null || :`];
}

/**
 * The status gate, once the wait above is over. ECS can only start a container when others
 * succeeded, completed or are healthy, never "when something failed", so a step that runs
 * only on failure decides here: the build is failing when a watched container (every step
 * container whose failure is not ignored) has a non-zero exit record. A step that never
 * started writes no exit record; the failure that blocked it did. When the build is not
 * failing, the step is skipped: it exits 0 and leaves `<container>.skipped` so the agent
 * reports it as skipped. The agent's SETUP_RECORD counts as the clone's exit record: a failed
 * clone (or a service that was not ready) fails the build as a failed step does.
 */
function gateLines(watch: string[], container: string, name: string): string[] {
  const dir = `"$slipway_state${STEPS}`;
  return [
    'slipway_failing=no',
    `if [ -f "$slipway_state${SETUP}" ]; then`,
    `  slipway_v=; read -r slipway_v < "$slipway_state${SETUP}" || true`,
    '  if [ -n "$slipway_v" ] && [ "$slipway_v" != 0 ]; then slipway_failing=yes; fi',
    'fi',
    `for slipway_c in ${watch.map(shellQuote).join(' ')}; do`,
    // A step its wrapper skipped before its commands (SETUP_SKIPPED_EXIT_CODE beside `.skipped`: a
    // failed setup, counted above, or a step before it that did not pass) did not fail.
    `  if [ -f ${dir}/$slipway_c/$slipway_c.exit" ] && ! { [ -f ${dir}/$slipway_c/$slipway_c${STEP_SKIPPED_SUFFIX}" ] && read -r slipway_v < ${dir}/$slipway_c/$slipway_c.exit" && [ "$slipway_v" = ${SETUP_SKIPPED_EXIT_CODE} ]; }; then`,
    `    slipway_v=; read -r slipway_v < ${dir}/$slipway_c/$slipway_c.exit" || true`,
    // Empty: its wrapper is between creating the file and writing the code, or was killed
    // there. No record yet, as if the file were not there; the agent replaces a record left
    // empty by a stopped container with the exit code ECS reports (supervise.ts).
    '    if [ -z "$slipway_v" ]; then',
    `      echo "slipway: the exit record of $slipway_c is empty (still being written, or its step was stopped while writing it): not counted as a failure"`,
    `    elif [ "$slipway_v" != 0 ] && [ "$slipway_v" != ${EARLY_EXIT_CODE} ]; then slipway_failing=yes; fi`,
    '  fi',
    'done',
    'if [ "$slipway_failing" = no ]; then',
    `  echo ${shellQuote(`slipway: skipping ${name}: it runs only when the build is failing, and no step has failed`)}`,
    `  mkdir -p ${dir}/${container}" 2>/dev/null; : > ${dir}/${container}/${container}${STEP_SKIPPED_SUFFIX}"`,
    '  exit 0',
    'fi',
  ];
}

/**
 * The script of a gate container: a plugin step keeps its image's entrypoint, so the wait
 * for its upstream and its status gate run in a small container of its own (the agent
 * image) that the plugin depends on with SUCCESS. Exit 0: run the step; exit 1: the step
 * is skipped. Without `watch` (a step that runs always) it only waits, and exits 0.
 */
export function gateContainerScript(
  watch: string[] | undefined,
  stepContainer: string,
  stepName: string,
  waitFor: string[] = [],
  detached: readonly string[] = [],
  /** The gate holds an ECS START on a step container: it writes its step's `.up` marker first (setupWaitLines). */
  upMarker = false,
): string {
  // The gate starts with the agent (ECS START), as the status step it decides for would.
  const lines = [`# slipway: status gate of ${stepName}`, `slipway_state="\${SLIPWAY_STATE_DIR:-${STATE_DIR}}"`, ...setupWaitLines(upMarker ? stepContainer : undefined)];
  if (waitFor.length > 0) lines.push(...waitLines(waitFor, stepName));
  // A step that runs only on failure is skipped after an early exit; one that runs always is not.
  const skip = (lines: string[]) => lines.map((line) => (line.trim() === 'exit 0' ? line.replace('exit 0', 'exit 1') : line));
  const gate = watch ? [...skip(earlyExitLines(stepContainer, stepName, detached)), ...skip(gateLines(watch, stepContainer, stepName))] : [];
  return `${[...lines, ...gate, 'exit 0'].join('\n')}\n`;
}
