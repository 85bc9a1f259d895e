// The `slipway` command: dispatches to one module per sub-command, loaded lazily so
// `slipway lint` does not pay for the AWS SDK.

import { EXIT, type CliIO } from './io.js';
import { printable } from './format.js';

type CommandModule = { run(args: string[], io: CliIO): Promise<number> };

// Each command adds one line here.
const COMMANDS: Record<string, { summary: string; load: () => Promise<CommandModule> }> = {
  lint: { summary: 'check .drone.yml files (exit 1 when invalid)', load: () => import('./commands/lint.js') },
  compile: { summary: 'print the ECS task definitions of a .drone.yml as JSON', load: () => import('./commands/compile.js') },
  up: { summary: 'run Slipway locally: dashboard, API, webhooks and a demo build (npm start)', load: () => import('./commands/up.js') },
  run: { summary: "build a directory's .drone.yml locally through the control plane (like drone exec)", load: () => import('./commands/run.js') },
  builds: { summary: 'list builds, newest first (--repo, --status, --json)', load: () => import('./commands/builds.js') },
  build: { summary: "show a build's stages and steps with timings", load: () => import('./commands/build.js') },
  logs: { summary: "print a step's log (--follow while it runs)", load: () => import('./commands/logs.js') },
  cancel: { summary: 'cancel a running build', load: () => import('./commands/cancel.js') },
  restart: { summary: 'start a new build of the same commit', load: () => import('./commands/restart.js') },
  repo: { summary: 'activate a repository (its webhook URL and own secret), update its settings, list, remove, rotate-secret', load: () => import('./commands/repo.js') },
  app: { summary: "set the GitHub App's webhook secret (read from standard input)", load: () => import('./commands/app.js') },
  secrets: { summary: 'add, list or remove repository secrets (SSM when deployed)', load: () => import('./commands/secrets.js') },
  doctor: { summary: 'check a deployed (or --local) stack: webhook, Git host, RunTask, quotas, agent images, a hello-world build', load: () => import('./commands/doctor.js') },
  'git-host': { summary: 'a local Git host for webhooks: a GitHub-shaped API over bare repositories that send push webhooks', load: () => import('./commands/git-host.js') },
};

export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return ['usage: slipway <command> [options]', '', 'commands:', ...lines, '', 'slipway <command> --help for its options'].join('\n');
}

export async function main(argv: string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out(usage());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.err(`slipway: unknown command "${name}"\n${usage()}`);
    return EXIT.usage;
  }
  const module = await command.load();
  return module.run(rest, terminalSafe(io));
}

/**
 * Everything a command prints passes through `printable`: a commit message, a branch or a
 * log line is text from a push, and must not drive the terminal of whoever reads it.
 * (JSON output has its control characters escaped already.)
 */
function terminalSafe(io: CliIO): CliIO {
  return { ...io, out: (text) => io.out(printable(text)), err: (text) => io.err(printable(text)) };
}
