// The task-runner agent's entry point: `node task-runner/main.ts` (via tsx) or the
// bundled `dist/agent.mjs` in the image. The process edges live here: arguments,
// signals, the deadline and the exit code; the run itself is agent.ts.

import { AGENT_EXIT, type AgentExitCode } from '../core/pipeline/contract.js';
import { runAgent } from './agent.js';
import { ConfigError, readConfig } from './config.js';
import { Reporter } from './report.js';
import { StopSwitch, handleTermination } from './signals.js';
import { armDeadline } from './timeout.js';
import { agentVersion } from './version.js';

const HELP = `slipway-agent — the task-runner of a Slipway pipeline task

Usage: slipway-agent            run (configured by the environment)
       slipway-agent --version  print the version
       slipway-agent --help     print this text

Environment:
  SLIPWAY_PLAN                  AgentPlan JSON (task definition)
  SLIPWAY_BUILD                 BuildContext JSON of this run (RunTask override)
  SLIPWAY_STAGE_ID              stage id of this run
  ECS_CONTAINER_METADATA_URI_V4 task metadata endpoint (set by ECS)
  DRONE_NETRC_MACHINE, DRONE_NETRC_USERNAME, DRONE_NETRC_PASSWORD   clone credentials
  SLIPWAY_WORKSPACE_DIR         workspace path instead of the plan's (local runs, tests)
  SLIPWAY_STATE_DIR             state directory instead of /slipway (local runs, tests)
  SLIPWAY_TIMEOUT_SECONDS       pipeline timeout instead of the plan's minutes (tests)
  SLIPWAY_POLL_MS               metadata poll interval, default 1000
  SLIPWAY_BUSYBOX               static busybox installed for masked plugin steps

Exit codes: 0 success, 1 step failed, 2 service not ready, 3 timed out,
            4 interrupted, 5 clone failed, 6 internal error.
`;

/** Seconds the agent gives itself after SIGTERM: well under ECS's 30 s stopTimeout. */
const STOP_GRACE_MS = 10_000;

function writeLine(line: string): void {
  process.stdout.write(`${line}\n`);
}

function exit(code: number): void {
  // Exit only once stdout has drained: the report lines are the point of the run.
  process.stdout.write('', () => process.exit(code));
}

async function main(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(HELP);
    return exit(0);
  }
  if (argv.includes('--version')) {
    writeLine(agentVersion());
    return exit(0);
  }

  const reporter = new Reporter(writeLine);
  const fail = (message: string): void => {
    reporter.progress(message);
    reporter.result({ outcome: 'error', exitCode: AGENT_EXIT.internalError, message, finishedAt: new Date().toISOString() });
    exit(AGENT_EXIT.internalError);
  };

  let config;
  try {
    config = readConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) return fail(error.message);
    throw error;
  }

  const stop = new StopSwitch();
  const removeHandlers = handleTermination({
    stop,
    log: (message) => reporter.progress(message),
    graceMs: STOP_GRACE_MS,
    forceExit: (signal) => {
      const message = `interrupted by ${signal}: stopped before the orderly end`;
      reporter.result({ outcome: 'interrupted', exitCode: AGENT_EXIT.interrupted, message, finishedAt: new Date().toISOString() });
      exit(AGENT_EXIT.interrupted);
    },
  });
  const disarm = armDeadline(stop, config.timeoutMs, (message) => reporter.progress(message), config.timeoutLabel);

  let code: AgentExitCode;
  try {
    code = await runAgent(config, reporter, stop);
  } catch (error) {
    disarm();
    removeHandlers();
    return fail(`agent: unexpected error: ${(error as Error).stack ?? String(error)}`);
  }
  disarm();
  removeHandlers();
  exit(code);
}

void main(process.argv.slice(2));
