// The README's one command that puts this checkout's CLI on the PATH (`npm link`), run as a
// user would, but into a throw-away npm prefix (npm_config_prefix) so that the machine's
// global packages are untouched. Outside the checkout `npx slipway` finds an unrelated
// package of that name on the registry; the linked `slipway` is this CLI from any directory.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('`npm link` puts this checkout\'s `slipway` on the PATH', () => {
  let prefix: string;
  let elsewhere: string;
  let bin: string;

  beforeAll(() => {
    prefix = mkdtempSync(join(tmpdir(), 'slipway-npm-prefix-'));
    elsewhere = mkdtempSync(join(tmpdir(), 'slipway-elsewhere-'));
    // --offline: linking a local folder needs nothing from the registry.
    const link = spawnSync('npm', ['link', '--offline', '--no-audit', '--no-fund'], { cwd: ROOT, env: { ...process.env, npm_config_prefix: prefix }, encoding: 'utf8' });
    if (link.status !== 0) throw new Error(`npm link failed (exit ${link.status}): ${link.stderr}`);
    bin = join(prefix, 'bin');
  });

  afterAll(() => {
    rmSync(prefix, { recursive: true, force: true });
    rmSync(elsewhere, { recursive: true, force: true });
  });

  const slipway = (args: string[]) =>
    spawnSync('slipway', args, { cwd: elsewhere, env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` }, encoding: 'utf8' });

  it('the command on the PATH is this checkout\'s bin/slipway.js', () => {
    expect(realpathSync(join(bin, 'slipway'))).toBe(realpathSync(join(ROOT, 'bin/slipway.js')));
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    expect(pkg.bin).toEqual({ slipway: 'bin/slipway.js' });
  });

  it('runs from another directory, on that directory\'s files, without the AWS SDK\'s Node warning', () => {
    writeFileSync(join(elsewhere, '.drone.yml'), 'kind: pipeline\ntype: docker\nname: test\nsteps:\n  - name: a\n    image: alpine\n    comands:\n      - echo hi\n');
    const help = slipway(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: slipway <command>/);
    const lint = slipway(['lint', '.drone.yml']);
    expect(`${lint.stdout}${lint.stderr}`).toMatch(/\.drone\.yml:7:5: .*comands/);
    expect(lint.stderr).not.toContain('NodeVersionSupportWarning');
  });

  it('the README gives that command', () => {
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8')).toMatch(/^npm link +# put this checkout.s `slipway` on your PATH/m);
  });
});
