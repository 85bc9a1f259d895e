import { describe, expect, it, beforeEach, afterEach } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { SECRET_MASK } from '../../core/pipeline/mask.js';
import { gateContainerScript, stepScript, type ScriptInput } from '../../core/pipeline/script.js';
import { shellQuote } from '../../core/pipeline/shell-quote.js';
import { startWrapper, wrapperShells } from './wrapper-process.js';
import { HANG_GUARD_MS, waitFor } from '../support/wait.js';

const SHELLS = wrapperShells();

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'slipway-script-'));
  mkdirSync(join(dir, 'ws'));
  // The agent's setup record (SETUP_RECORD): the clone and the services are done.
  mkdirSync(join(dir, 'state', 'agent'), { recursive: true });
  writeFileSync(join(dir, 'state', 'agent', 'setup.exit'), '0\n');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** `<steps>/<container>/<container><suffix>`: each step container's records in its own volume (contract.ts). */
function recordPath(steps: string, container: string, suffix: string): string {
  return join(steps, container, `${container}${suffix}`);
}
function writeRecord(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

function run(shell: string[], input: Partial<ScriptInput>, env: Record<string, string> = {}) {
  const script = stepScript({ container: 'test', steps: [], workdir: '/nowhere', hosts: [], secretEnv: [], ...input });
  const [bin, ...args] = shell;
  const result = spawnSync(bin!, [...args, '-c', script], {
    env: { PATH: process.env.PATH, SLIPWAY_STATE_DIR: join(dir, 'state'), SLIPWAY_WORKSPACE: join(dir, 'ws'), SLIPWAY_HOSTS_FILE: join(dir, 'hosts'), ...env },
    encoding: 'utf8',
    timeout: HANG_GUARD_MS,
  });
  const own = input.container ?? 'test';
  const record = join(dir, 'state', 'steps', own, `${own}.exit`);
  return {
    status: result.status,
    stdout: result.stdout,
    stderr: result.stderr,
    record: existsSync(record) ? readFileSync(record, 'utf8').trim() : undefined,
    skipped: existsSync(join(dir, 'state', 'steps', own, `${own}.skipped`)),
  };
}

// The mask has two paths: awk under the busybox the agent installs in the state volume
// (on ECS), and the shell loop when there is none. Every test runs on both.
const BUSYBOX = ['/usr/bin/busybox', '/bin/busybox'].find((path) => existsSync(path));
const MASKS = BUSYBOX ? (['shell loop', 'busybox awk'] as const) : (['shell loop'] as const);

for (const shell of SHELLS) for (const mask of MASKS) {
  describe(`step script under ${shell.join(' ')}, mask: ${mask}`, () => {
    beforeEach(() => {
      if (mask !== 'busybox awk') return;
      mkdirSync(join(dir, 'state', 'agent', 'bin'), { recursive: true });
      symlinkSync(BUSYBOX!, join(dir, 'state', 'agent', 'bin', 'busybox'));
    });

    it('echoes each command before running it, in the workspace, and records exit 0', () => {
      const r = run(shell, { steps: [{ name: 'test', commands: ['echo hello', 'pwd', 'echo "$HOME" > /dev/null'] }] });
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(`+ echo hello\nhello\n+ pwd\n${join(dir, 'ws')}\n+ echo "$HOME" > /dev/null\n`);
      expect(r.record).toBe('0');
    });

    it('stops at the first failing command (set -e) and records its exit code', () => {
      const r = run(shell, { steps: [{ name: 'test', commands: ['echo one', 'exit 7', 'echo never'] }] });
      expect(r.status).toBe(7);
      expect(r.stdout).toBe('+ echo one\none\n+ exit 7\n');
      expect(r.record).toBe('7');
      const f = run(shell, { steps: [{ name: 'test', commands: ['false', 'echo never'] }] });
      expect(f.status).toBe(1);
      expect(f.stdout).not.toContain('never');
    });

    it('sources the per-run env file', () => {
      mkdirSync(join(dir, 'state', 'agent'), { recursive: true });
      writeFileSync(join(dir, 'state', 'agent', 'env'), "export DRONE_COMMIT_SHA='abc123'\n");
      const r = run(shell, { steps: [{ name: 'test', commands: ['echo "sha=$DRONE_COMMIT_SHA"'] }] });
      expect(r.stdout).toContain('sha=abc123\n');
    });

    it("the step's own environment wins over the per-run env file; other names come from the file", () => {
      mkdirSync(join(dir, 'state', 'agent'), { recursive: true });
      writeFileSync(join(dir, 'state', 'agent', 'env'), "export CI='true'\nexport DRONE_BRANCH='main'\nexport TOKEN='from-file'\nexport EMPTY='filled'\n");
      const r = run(
        shell,
        { ownEnv: ['CI', 'TOKEN', 'EMPTY', 'MY-NAME'], secretEnv: ['TOKEN'], steps: [{ name: 'test', commands: ['echo "CI=$CI branch=$DRONE_BRANCH empty=[$EMPTY]"', 'sh -c \'echo "child CI=$CI"\''] }] },
        { CI: 'false', TOKEN: 'tok-value', EMPTY: '' },
      );
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('CI=false branch=main empty=[]\n');
      expect(r.stdout).toContain('child CI=false\n');
      // A multi-line value with quotes survives the save and restore.
      const tricky = `it's "a"\n$x \\ end`;
      const t = run(shell, { ownEnv: ['V'], steps: [{ name: 'test', commands: ['printf "%s|" "$V"'] }] }, { V: tricky });
      expect(t.stdout).toContain(`${tricky}|`);
    });

    it('maps service names to 127.0.0.1 in the hosts file, once', () => {
      writeFileSync(join(dir, 'hosts'), '127.0.0.1 localhost\n');
      const input = { hosts: ['db', 'cache', 'not a host'], steps: [{ name: 'test', commands: ['true'] }] };
      expect(run(shell, input).status).toBe(0);
      expect(run(shell, input).status).toBe(0);
      expect(readFileSync(join(dir, 'hosts'), 'utf8')).toBe('127.0.0.1 localhost\n127.0.0.1 db cache\n');
    });

    it('warns on stderr and goes on when the hosts file is not writable', () => {
      const r = run(shell, { hosts: ['db'], steps: [{ name: 'test', commands: ['echo ran'] }] }, { SLIPWAY_HOSTS_FILE: join(dir, 'missing', 'hosts') });
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('ran');
      expect(r.stderr).toContain('reach db at localhost');
    });

    it('masks secret values, embedded in longer strings and across lines', () => {
      const env = { TOKEN: 's3cr3t-v4lue', KEY: 'line-one\nline-two', PLAIN: 'visible' };
      const r = run(
        shell,
        {
          secretEnv: ['TOKEN', 'KEY'],
          steps: [{ name: 'test', commands: ['echo $TOKEN', 'echo "prefix${TOKEN}suffix and $TOKEN"', 'echo "$KEY"', 'echo $PLAIN', 'printf "x-line-two-y"'] }],
        },
        env,
      );
      expect(r.status).toBe(0);
      for (const secret of ['s3cr3t-v4lue', 'line-one', 'line-two']) {
        expect(r.stdout).not.toContain(secret);
        expect(r.stderr).not.toContain(secret);
      }
      expect(r.stdout).toContain(`${SECRET_MASK}\n`);
      expect(r.stdout).toContain(`prefix${SECRET_MASK}suffix and ${SECRET_MASK}\n`);
      expect(r.stdout).toContain(`${SECRET_MASK}\n${SECRET_MASK}\n`);
      expect(r.stdout).toContain('visible\n');
      expect(r.stdout).toContain(`x-${SECRET_MASK}-y`);
      expect(r.record).toBe('0');
    });

    it('masks stderr too and keeps the exit code through the mask', () => {
      const r = run(shell, { secretEnv: ['TOKEN'], steps: [{ name: 'test', commands: ['echo "$TOKEN" >&2', 'exit 3'] }] }, { TOKEN: 'hunter2' });
      expect(r.status).toBe(3);
      expect(r.record).toBe('3');
      expect(r.stdout + r.stderr).not.toContain('hunter2');
      expect(r.stdout).toContain(SECRET_MASK);
    });

    it('does not mangle values with backslashes, quotes and glob characters', () => {
      const secret = `a\\b'c"d*e?[f]$g`;
      const r = run(shell, { secretEnv: ['S'], steps: [{ name: 'test', commands: ['printf "%s|%s\\n" "$S" "a*"'] }] }, { S: secret });
      expect(r.stdout).toContain(`${SECRET_MASK}|a*\n`);
      expect(r.stdout).not.toContain('d*e');
    });

    it('masks a secret that contains another whole, longest first', () => {
      const r = run(shell, { secretEnv: ['A', 'B'], steps: [{ name: 'test', commands: ['echo "[$B] [$A]"'] }] }, { A: 'abc', B: 'abcdef' });
      expect(r.stdout).toContain(`[${SECRET_MASK}] [${SECRET_MASK}]\n`);
      expect(r.stdout).not.toContain('def');
      const z = run(shell, { secretEnv: ['Z', 'Y', 'X'], steps: [{ name: 'test', commands: ['echo "$X $Y $Z"'] }] }, { Z: 'one', Y: 'one-two', X: 'one-two-three' });
      expect(z.stdout).toContain(`${SECRET_MASK} ${SECRET_MASK} ${SECRET_MASK}\n`);
    });

    it('does not mask trivial parts: short values and punctuation-only lines of multi-line secrets', () => {
      const json = '{\n  "private_key": "k3y-material"\n}';
      const r = run(shell, { secretEnv: ['JSON', 'TINY'], steps: [{ name: 'test', commands: ['echo "{ a } [ab] $JSON"'] }] }, { JSON: json, TINY: 'ab' });
      // Each line of a multi-line secret is masked without its indentation, as Drone trims it.
      expect(r.stdout).toContain(`{ a } [ab] {\n  ${SECRET_MASK}\n}\n`);
      expect(r.stdout).not.toContain('k3y-material');
    });

    it('masks a value saved with blanks around it (CRLF, trailing space) wherever the bare value appears', () => {
      const r = run(
        shell,
        { secretEnv: ['CRLF', 'PADDED', 'BLANK'], steps: [{ name: 'test', commands: ['echo "token=crlf-s3cret and padded-s3cret; indent:    kept"', 'printf "%s|\\n" "$CRLF"'] }] },
        { CRLF: 'crlf-s3cret\r\n', PADDED: '  padded-s3cret \t', BLANK: '      ' },
      );
      expect(r.status).toBe(0);
      expect(r.stdout).not.toContain('crlf-s3cret');
      expect(r.stdout).not.toContain('padded-s3cret');
      expect(r.stdout).toContain(`token=${SECRET_MASK} and ${SECRET_MASK}; indent:    kept\n`);
      expect(r.stdout).toContain(`${SECRET_MASK}\r\n|\n`);
    });

    it('a background process does not keep the step alive, with or without secrets', () => {
      for (const secretEnv of [['TOKEN'], []]) {
        const pidFile = join(dir, `bg-${secretEnv.length}.pid`);
        const outFile = join(dir, `bg-${secretEnv.length}.out`);
        const script = stepScript({
          container: 'test',
          workdir: '/nowhere',
          hosts: [],
          secretEnv,
          steps: [{ name: 'test', commands: ['echo "before $TOKEN"', `sleep 30 & echo $! > ${pidFile}`, 'echo after'] }],
        });
        const [bin, ...args] = shell;
        // Output to a file, so that what is waited for is the shell's own exit (a pipe would
        // also wait for the background process, which inherits it).
        const out = openSync(outFile, 'w');
        const result = spawnSync(bin!, [...args, '-c', script], {
          env: { PATH: process.env.PATH, SLIPWAY_STATE_DIR: join(dir, 'state'), SLIPWAY_WORKSPACE: join(dir, 'ws'), TOKEN: 'hunter22' },
          timeout: HANG_GUARD_MS,
          stdio: ['ignore', out, out],
        });
        closeSync(out);
        const pid = Number(readFileSync(pidFile, 'utf8'));
        // The background process outlived the step: the step did not wait for it.
        const alive = (() => {
          try {
            process.kill(pid, 0);
            return true;
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
            throw error;
          }
        })();
        if (alive) process.kill(pid, 'SIGKILL');
        expect(result.error).toBeUndefined();
        expect(result.status).toBe(0);
        expect(alive).toBe(true);
        const text = readFileSync(outFile, 'utf8');
        expect(text).toContain(secretEnv.length ? `before ${SECRET_MASK}\n` : 'before hunter22\n');
        expect(text).toContain('after\n');
        expect(readFileSync(recordPath(join(dir, 'state', 'steps'), 'test', '.exit'), 'utf8').trim()).toBe('0');
      }
    });

    it('SIGTERM or SIGINT stops a running step at once and records 143 or 130, with or without secrets', async () => {
      const cases: Array<{ secretEnv: string[]; signal: NodeJS.Signals; code: number }> = [
        { secretEnv: [], signal: 'SIGTERM', code: 143 },
        { secretEnv: ['TOKEN'], signal: 'SIGTERM', code: 143 },
        { secretEnv: ['TOKEN'], signal: 'SIGINT', code: 130 },
      ];
      for (const { secretEnv, signal, code } of cases) {
        const state = join(dir, `state-${signal}-${secretEnv.length}`);
        const script = stepScript({ container: 'test', workdir: '/nowhere', hosts: [], secretEnv, steps: [{ name: 'test', commands: ['echo "started $TOKEN"', 'sleep 30', 'echo never'] }] });
        const wrapper = startWrapper([...shell, '-c', script], { PATH: process.env.PATH, SLIPWAY_STATE_DIR: state, SLIPWAY_WORKSPACE: join(dir, 'ws'), TOKEN: 'hunter22' });
        try {
          await wrapper.waitForOutput('+ sleep 30\n');
          expect(wrapper.stdout()).toContain(secretEnv.length ? `started ${SECRET_MASK}\n` : 'started hunter22\n');
          wrapper.signal(signal);
          // Without the fix the wrapper would run on until the sleep ends (30 s).
          expect(await wrapper.exited()).toBe(code);
          expect(readFileSync(recordPath(join(state, 'steps'), 'test', '.exit'), 'utf8').trim()).toBe(String(code));
          expect(wrapper.stdout()).not.toContain('never');
        } finally {
          wrapper.cleanup();
        }
      }
    });

    it("SIGTERM reaches the step's commands, whose own clean-up still runs and is masked", async () => {
      const state = join(dir, 'state-cleanup');
      const commands = ['trap \'echo "cleaning up $TOKEN"; exit 7\' TERM', 'echo ready', 'sleep 30 &', 'wait $!'];
      const script = stepScript({ container: 'test', workdir: '/nowhere', hosts: [], secretEnv: ['TOKEN'], steps: [{ name: 'test', commands }] });
      const wrapper = startWrapper([...shell, '-c', script], { PATH: process.env.PATH, SLIPWAY_STATE_DIR: state, SLIPWAY_WORKSPACE: join(dir, 'ws'), TOKEN: 'hunter22' });
      try {
        await wrapper.waitForOutput('\nready\n');
        wrapper.signal('SIGTERM');
        expect(await wrapper.exited()).toBe(143);
        await wrapper.waitForOutput('cleaning up');
        expect(wrapper.stdout()).toContain(`cleaning up ${SECRET_MASK}\n`);
        expect(wrapper.stdout()).not.toContain('hunter22');
        expect(readFileSync(recordPath(join(state, 'steps'), 'test', '.exit'), 'utf8').trim()).toBe('143');
      } finally {
        wrapper.cleanup();
      }
    });

    it('an unset or empty secret masks nothing', () => {
      const r = run(shell, { secretEnv: ['NOPE'], steps: [{ name: 'test', commands: ['echo fine'] }] });
      expect(r.stdout).toBe('+ echo fine\nfine\n');
    });

    it('the status gate skips a failure-only step while nothing failed', () => {
      const input = { gate: { watch: ['build', 'test2'] }, steps: [{ name: 'notify', commands: ['echo notified'] }] };
      const ok = run(shell, input);
      expect(ok.status).toBe(0);
      expect(ok.stdout).not.toContain('notified');
      expect(ok.stdout).toContain('skipping notify');
      expect(ok.skipped).toBe(true);

      mkdirSync(join(dir, 'state', 'steps'), { recursive: true });
      writeRecord(recordPath(join(dir, 'state', 'steps'), 'build', '.exit'), '0\n');
      expect(run(shell, input).stdout).not.toContain('notified');

      writeRecord(recordPath(join(dir, 'state', 'steps'), 'test2', '.exit'), '2\n');
      rmSync(recordPath(join(dir, 'state', 'steps'), 'test', '.skipped'));
      const failing = run(shell, input);
      expect(failing.stdout).toContain('notified');
      expect(failing.skipped).toBe(false);
      expect(failing.record).toBe('0');
    });

    it('the status gate does not count a step its wrapper skipped before its commands (79 beside .skipped) as a failure; a user exit 79 counts', () => {
      const input = { gate: { watch: ['build', 'test2'] }, steps: [{ name: 'notify', commands: ['echo notified'] }] };
      const steps = join(dir, 'state', 'steps');
      writeRecord(recordPath(steps, 'build', '.exit'), '0\n');
      writeRecord(recordPath(steps, 'test2', '.exit'), '79\n');
      writeRecord(recordPath(steps, 'test2', '.skipped'), '');
      const skipped = run(shell, input);
      expect(skipped.stdout).not.toContain('notified');
      expect(skipped.skipped).toBe(true);
      rmSync(recordPath(steps, 'test2', '.skipped'));
      rmSync(recordPath(steps, 'test', '.skipped'));
      expect(run(shell, input).stdout).toContain('notified');
    });

    // A wrapper writes its record with `echo "$rc" > file`: the file exists, empty, until the
    // write lands, and stays empty if the container is killed in between.
    it('the status gate reads an empty exit record as no record yet, not as a failure, and says so', () => {
      const input = { gate: { watch: ['build', 'test2'] }, steps: [{ name: 'notify', commands: ['echo notified'] }] };
      mkdirSync(join(dir, 'state', 'steps'), { recursive: true });
      writeRecord(recordPath(join(dir, 'state', 'steps'), 'build', '.exit'), '0\n');
      writeRecord(recordPath(join(dir, 'state', 'steps'), 'test2', '.exit'), '');
      const r = run(shell, input);
      expect(r.stdout).not.toContain('notified');
      expect(r.stdout).toContain('slipway: the exit record of test2 is empty (still being written, or its step was stopped while writing it): not counted as a failure\n');
      expect(r.stdout).toContain('skipping notify');
      expect(r.skipped).toBe(true);
    });

    it('the gate container reads an empty exit record as no record yet', () => {
      const [bin, ...args] = shell;
      const env = { PATH: process.env.PATH, SLIPWAY_STATE_DIR: join(dir, 'state') };
      mkdirSync(join(dir, 'state', 'steps'), { recursive: true });
      writeRecord(recordPath(join(dir, 'state', 'steps'), 'build', '.exit'), '');
      const r = spawnSync(bin!, [...args, '-c', gateContainerScript(['build'], 'slack', 'slack')], { env, encoding: 'utf8' });
      expect(r.status).toBe(1);
      expect(r.stdout).toContain('the exit record of build is empty');
    });

    it('the gate container exits 1 to skip, 0 to run', () => {
      const [bin, ...args] = shell;
      const env = { PATH: process.env.PATH, SLIPWAY_STATE_DIR: join(dir, 'state') };
      const script = gateContainerScript(['build'], 'slack', 'slack');
      expect(spawnSync(bin!, [...args, '-c', script], { env }).status).toBe(1);
      expect(existsSync(recordPath(join(dir, 'state', 'steps'), 'slack', '.skipped'))).toBe(true);
      writeRecord(recordPath(join(dir, 'state', 'steps'), 'build', '.exit'), '1\n');
      expect(spawnSync(bin!, [...args, '-c', script], { env }).status).toBe(0);
    });

    it('a failed setup (the clone) makes the build failing for the gate, which waits for the setup record first', () => {
      const [bin, ...args] = shell;
      const env = { PATH: process.env.PATH, SLIPWAY_STATE_DIR: join(dir, 'state'), SLIPWAY_WAIT_SECONDS: '0.02' };
      const setup = join(dir, 'state', 'agent', 'setup.exit');
      rmSync(setup);
      const script = gateContainerScript(['build'], 'slack', 'slack', ['build']);
      // No setup record yet: the gate waits (and is stopped here by the test's timeout).
      expect(spawnSync(bin!, [...args, '-c', script], { env, timeout: 400 }).signal).toBe('SIGTERM');
      writeFileSync(setup, '5\n');
      writeRecord(recordPath(join(dir, 'state', 'steps'), 'build', '.unreachable'), 'the clone failed\n');
      expect(spawnSync(bin!, [...args, '-c', script], { env, timeout: HANG_GUARD_MS }).status).toBe(0);
      // A step wrapper that runs on failure sees it the same way.
      const r = run(shell, { container: 'notify', steps: [{ name: 'notify', commands: ['echo notified'] }], gate: { watch: ['build'] }, waitFor: ['build'], afterSetup: true });
      expect(r.stdout).toContain('notified');
    });

    it('a status step waits until each container before it has a final record, then applies its gate', async () => {
      const steps = join(dir, 'state', 'steps');
      mkdirSync(steps, { recursive: true });
      const script = stepScript({
        container: 'notify',
        steps: [{ name: 'notify', commands: ['echo notified'] }],
        workdir: '/nowhere',
        hosts: [],
        secretEnv: [],
        gate: { watch: ['build', 'test', 'lint'] },
        waitFor: ['build', 'test', 'lint'],
      });
      const [bin, ...args] = shell;
      const child = spawn(bin!, [...args, '-c', script], {
        env: { PATH: process.env.PATH, SLIPWAY_STATE_DIR: join(dir, 'state'), SLIPWAY_WORKSPACE: join(dir, 'ws'), SLIPWAY_WAIT_SECONDS: '0.02' },
      });
      let stdout = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      const ended = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      const waiting = 'slipway: notify waits for build, test, lint to end\n';
      try {
        writeRecord(recordPath(steps, 'build', '.exit'), '2\n');
        writeRecord(recordPath(steps, 'lint', '.skipped'), '');
        writeRecord(recordPath(steps, 'test', '.exit'), ''); // caught mid-write: not final yet
        // It says it waits (once the shell got that far: no time is assumed); then, given a few
        // of its 20 ms rounds to go on wrongly, it still waits on the empty record.
        await waitFor('the status step to say it waits', async () => stdout.includes(waiting));
        await new Promise((r) => setTimeout(r, 150));
        expect(stdout).toBe(waiting);
        expect(existsSync(recordPath(steps, 'notify', '.exit'))).toBe(false);
        rmSync(recordPath(steps, 'test', '.exit'));
        writeRecord(recordPath(steps, 'test', '.unreachable'), 'dependency build failed with exit code 2\n');
        expect(await ended).toBe(0);
      } finally {
        child.kill('SIGKILL');
      }
      expect(stdout).toContain('+ echo notified\nnotified\n');
      expect(readFileSync(recordPath(steps, 'notify', '.exit'), 'utf8').trim()).toBe('0');
    });

    it('a gate container that only waits (a plugin that runs always) exits 0 once the records are there', () => {
      const [bin, ...args] = shell;
      const env = { PATH: process.env.PATH, SLIPWAY_STATE_DIR: join(dir, 'state'), SLIPWAY_WAIT_SECONDS: '0.02' };
      mkdirSync(join(dir, 'state', 'steps'), { recursive: true });
      writeRecord(recordPath(join(dir, 'state', 'steps'), 'build', '.exit'), '1\n');
      writeRecord(recordPath(join(dir, 'state', 'steps'), 'test', '.unreachable'), 'x\n');
      const script = gateContainerScript(undefined, 'slack', 'slack', ['build', 'test']);
      expect(spawnSync(bin!, [...args, '-c', script], { env, timeout: HANG_GUARD_MS }).status).toBe(0);
      expect(existsSync(recordPath(join(dir, 'state', 'steps'), 'slack', '.skipped'))).toBe(false);
    });

    it('packed steps run in order, each echoed, and stop at the first failure', () => {
      const r = run(shell, {
        steps: [
          { name: 'a', commands: ['cd /', 'echo "a:$X"'], exports: { X: 'one' } },
          { name: 'b', commands: ['pwd', 'echo "b:$X"', 'false'] },
          { name: 'c', commands: ['echo never'] },
        ],
      });
      expect(r.status).toBe(1);
      expect(r.stdout).toBe(`--- step a\n+ cd /\n+ echo "a:$X"\na:one\n--- step b\n+ pwd\n${join(dir, 'ws')}\n+ echo "b:$X"\nb:\n+ false\n`);
      expect(r.record).toBe('1');
    });
  });
}

describe('shellQuote', () => {
  it('round-trips through sh', () => {
    for (const value of [`it's`, '$HOME', '`x`', 'a\nb', '\\']) {
      expect(spawnSync('/bin/sh', ['-c', `printf %s ${shellQuote(value)}`], { encoding: 'utf8' }).stdout).toBe(value);
    }
  });
});
