// `slipway up [--port N] [--no-demo] [--exit-after-demo]` (what `npm start` runs): local
// mode — stand-ins, control plane, dashboard + API + webhooks on http://localhost:8080 —
// then a demo build of examples/postgres (a postgres service, steps that reach it at
// localhost and by its name), its steps and timings printed here. Stays up until Ctrl-C.
// Exit 0 after a clean stop (with --exit-after-demo: 0 iff the demo succeeded), 1 the demo
// failed / could not start, 2 usage.

import { fileURLToPath } from 'node:url';
import { startLocalSlipway, type LocalSlipway } from '../../local/up.js';
import { snapshotDirectory, type Snapshot } from '../../local/snapshot.js';
import { newRunToken, removeServerFile, writeServerFile } from '../../local/local-runs.js';
import { slipwayHome } from '../../local/secrets.js';
import { PUSH_REPOSITORIES_ENV } from '../../local/push-rights.js';
import { parse, positiveInt } from '../command-kit.js';
import { localPhases, progressPrinter } from '../progress.js';
import { redirectHandlerLogs } from '../handler-log.js';
import { formatBuild } from './build.js';
import { EXIT, type CliIO } from '../io.js';

const USAGE = `usage: slipway up [--port N] [--no-demo] [--exit-after-demo]

Runs Slipway on this machine: DynamoDB Local, SQS (fauxqs) and the ECS stand-in, the
control plane, and one server on loopback with the dashboard, the API (/api/) and the
webhooks (POST /hooks/github|gitea|gitlab, of repositories activated with slipway repo add).
Then runs a demo build and prints its steps. Ctrl-C stops everything.

options:
  --port N            port of the server (default PORT or 8080)
  --no-demo           do not run the demo build
  --exit-after-demo   stop after the demo build; exit 0 if it succeeded, 1 if not
  -h, --help          show this help

exit status: 0 stopped cleanly (or the demo succeeded), 1 failed, 2 usage error`;

export const DEMO_EXAMPLE = fileURLToPath(new URL('../../examples/postgres', import.meta.url));
export const DEMO_REPO = 'demo/postgres';

/** Which repositories' builds push to the local registry with its login, and how to list more. */
export function pushRightsLine(pushRepositories: Record<string, string[]>): string {
  const listed = Object.entries(pushRepositories).map(([slug, names]) => `${slug} → ${names.join(', ') || 'none'}`);
  return listed.length > 0
    ? `Builds that may push there: ${listed.join('; ')} (${PUSH_REPOSITORIES_ENV}).`
    : `No repository's builds may push there yet: ${PUSH_REPOSITORIES_ENV}='{"local/app":["team/app"]}' lets local/app push to team/app.`;
}

export async function run(args: string[], io: CliIO): Promise<number> {
  const p = parse('up', args, { port: { type: 'string' }, 'no-demo': { type: 'boolean' }, 'exit-after-demo': { type: 'boolean' } }, USAGE, io);
  if (!p) return EXIT.usage;
  if (p.values.help) return io.out(USAGE), EXIT.ok;
  if (p.positionals.length) return io.err(`slipway up: unexpected argument "${p.positionals[0]}"\n${USAGE}`), EXIT.usage;
  const portText = (p.values.port as string | undefined) ?? io.env.PORT;
  const port = portText === undefined || portText === '' ? 8080 : portText === '0' ? 0 : positiveInt(portText);
  if (port === undefined || port > 65535) return io.err(`slipway up: port ${JSON.stringify(portText)} must be a number from 1 to 65535`), EXIT.usage;
  if (p.values['no-demo'] && p.values['exit-after-demo']) return io.err('slipway up: --no-demo and --exit-after-demo exclude each other'), EXIT.usage;

  io.out('Starting Slipway locally (DynamoDB Local, SQS, the ECS stand-in, the control plane)…');
  const started = Date.now();
  const handlerLog = redirectHandlerLogs(io.env, 'up');
  try {
    return await upAndDemo(io, port, p.values['no-demo'] === true, p.values['exit-after-demo'] === true, started, handlerLog.file);
  } finally {
    handlerLog.restore();
  }
}

async function upAndDemo(io: CliIO, port: number, noDemo: boolean, exitAfterDemo: boolean, started: number, logFile: string | undefined): Promise<number> {
  let local: LocalSlipway;
  const runToken = newRunToken();
  try {
    local = await startLocalSlipway({
      port,
      env: io.env,
      runToken,
      onError: (where, err) => io.err(`  [${where}] ${(err as Error)?.message ?? String(err)}`),
      log: (line) => io.out(`  [server] ${line}`),
    });
  } catch (err) {
    io.err(`slipway up: could not start: ${(err as Error).message}`);
    return EXIT.failed;
  }
  io.out(`Dashboard: ${local.url}`);
  io.out(`API:       ${local.url}/api/builds   (open on loopback; see docs/api.md)`);
  io.out(`Webhooks:  ${local.url}/hooks/github | /hooks/gitea | /hooks/gitlab   (for repositories activated with: slipway repo add OWNER/NAME --host HOST)`);
  io.out(`Tasks run as host processes, ${local.isolation}. Ready in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
  io.out(
    'host' in local.imageRegistry
      ? `Image registry: ${local.imageRegistry.host} (loopback and tasks only, login required; plugins/docker steps push there: repo: ${local.imageRegistry.host}/team/app, insecure: true). ${pushRightsLine(local.imageRegistry.pushRepositories)}`
      : `Image registry: none, ${local.imageRegistry.missing}`,
  );
  if (logFile) io.out(`Control-plane log: ${logFile} (SLIPWAY_VERBOSE=1 prints it here)`);
  // `slipway run` finds this server here and builds through it (local/local-runs.ts).
  const home = slipwayHome(io.env);
  writeServerFile(home, { url: local.url, pid: process.pid, token: runToken });
  io.out(`Local runs: slipway run [DIR] builds a working copy here, shown in the dashboard and in slipway builds`);

  let exit: number = EXIT.ok;
  // The demo repository lives as long as Slipway does: a restart of the demo build clones it again.
  const demo = noDemo ? undefined : snapshotDirectory(DEMO_EXAMPLE, { message: 'Demo: a test suite against PostgreSQL', author: 'demo' });
  if (demo) {
    const ok = await runDemo(local, demo, io);
    if (exitAfterDemo) exit = ok ? EXIT.ok : EXIT.failed;
  }
  if (!exitAfterDemo) {
    io.out('Slipway is running. Press Ctrl-C to stop.');
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    io.out('\nStopping…');
  }
  try {
    removeServerFile(home, runToken);
    await local.stop();
  } catch (err) {
    io.err(`slipway up: stopping left something behind: ${(err as Error).message}`);
    return EXIT.failed;
  } finally {
    demo?.remove();
  }
  io.out('Stopped.');
  return exit;
}

/** The demo: examples/postgres as a fresh local git repository, built and followed. True on success. */
async function runDemo(local: LocalSlipway, snapshot: Snapshot, io: CliIO): Promise<boolean> {
  try {
    io.out(`\nDemo build of ${DEMO_REPO} (examples/postgres: a postgres service, steps that reach it at localhost and as "db")`);
    const submitted = await local.buildSnapshot(snapshot, { slug: DEMO_REPO });
    if (typeof submitted !== 'object' || !('buildId' in submitted)) {
      io.err(`slipway up: the demo built nothing: ${typeof submitted === 'object' ? submitted.skipped : 'queued without a build'}`);
      return false;
    }
    const id = submitted.buildId;
    const number = Number(id.slice(id.lastIndexOf('#') + 1));
    io.out(`  ${local.url}/#/builds/${DEMO_REPO}/${number}`);
    const phases = localPhases(local);
    const build = await local.waitForBuild(id, progressPrinter((line) => io.out(line), phases));
    io.out('');
    io.out(formatBuild(build, Date.now(), phases));
    io.out(`\nDemo build ${build.status === 'success' ? 'succeeded' : `ended ${build.status}`}.`);
    return build.status === 'success';
  } catch (err) {
    io.err(`slipway up: demo build: ${(err as Error).message}`);
    return false;
  }
}
