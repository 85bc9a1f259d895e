import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIO } from '../../cli/io.js';
import { main } from '../../cli/main.js';
import { HANG_GUARD_MS } from '../support/wait.js';

const VALID = `kind: pipeline
name: test
services:
- name: db
  image: postgres:15
steps:
- name: build
  image: golang
  commands: [go build]
- name: test
  image: golang
  commands: [go test]
---
kind: pipeline
name: deploy
depends_on: [test]
steps:
- name: deploy
  image: alpine
  commands: [echo ok]
`;
// A near miss of a key the step also sets stays a warning (a misspelled key it lacks is an error: parse.test.ts).
const WARNING = 'kind: pipeline\nsteps:\n- name: a\n  image: b\n  commands: [x]\n  comands: [y]\n';
const INVALID = 'kind: pipeline\nsteps:\n- name: a\n  image: [b]\n  privileged: true\n';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'slipway-lint-'));
  writeFileSync(join(dir, '.drone.yml'), VALID);
  writeFileSync(join(dir, 'warn.yml'), WARNING);
  writeFileSync(join(dir, 'bad.yml'), INVALID);
  writeFileSync(join(dir, 'binary.yml'), Buffer.from([0x6b, 0x3a, 0xff, 0xfe, 0x0a]));
  writeFileSync(join(dir, 'huge.yml'), Buffer.alloc(2 * 1024 * 1024, 0x20));
  mkdirSync(join(dir, 'sub'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function lint(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = { out: (t) => out.push(t), err: (t) => err.push(t), cwd: dir, env: {} };
  const code = await main(['lint', ...args], io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('slipway lint (in process)', () => {
  it('checks .drone.yml by default and prints a summary', async () => {
    expect(await lint()).toEqual({ code: 0, out: '.drone.yml: 2 pipelines, 3 steps, 1 service: ok', err: '' });
  });

  it('passes with warnings, printed on stderr', async () => {
    expect(await lint('warn.yml')).toEqual({
      code: 0,
      out: 'warn.yml: 1 pipeline, 1 step, 0 services, 1 warning: ok',
      err: 'warn.yml:6:3: warning: steps[0]: unknown key "comands" in step "a" — did you mean "commands"?',
    });
  });

  it('fails an invalid file with every diagnostic', async () => {
    expect(await lint('bad.yml')).toEqual({
      code: 1,
      out: '',
      err: [
        'bad.yml:4:10: error: steps[0].image: expected a string, got a list',
        'bad.yml:5:15: error: steps[0].privileged: Fargate cannot run privileged containers; build images with plugins/docker, which Slipway runs without privileges (kaniko), or run the pipeline on EC2 capacity, which an operator allows per trusted repository (slipway repo update OWNER/NAME --trusted; never for pull requests from forks)',
        'bad.yml: invalid (2 errors)',
      ].join('\n'),
    });
  });

  it('still fails a file when only one of its pipelines has an error (a build would run the others)', async () => {
    writeFileSync(join(dir, 'partly.yml'), `${VALID}---\nkind: pipeline\nname: typo\nsteps:\n- name: a\n  image: b\n  when: { branches: [main] }\n`);
    expect(await lint('partly.yml')).toEqual({
      code: 1,
      out: '',
      err: ['partly.yml:27:11: error: steps[0].when: unknown key "branches" in when — did you mean "branch"?', 'partly.yml: invalid (1 error)'].join('\n'),
    });
  });

  // Drone drops a skipped stage from its dependents' depends_on (drone/drone trigger/trigger.go).
  it('passes a pipeline that depends on a 32-bit ARM pipeline, with a note saying what it waits for', async () => {
    writeFileSync(join(dir, 'arm.yml'), `${VALID}---\nkind: pipeline\nname: arm\nplatform: { arch: arm }\nsteps:\n- name: a\n  image: b\n  commands: [x]\n---\nkind: pipeline\nname: notify\ndepends_on: [deploy, arm]\nsteps:\n- name: a\n  image: b\n  commands: [x]\n`);
    expect(await lint('arm.yml')).toEqual({
      code: 0,
      out: 'arm.yml: 3 pipelines, 4 steps, 1 service, 1 skipped, 1 note: ok',
      err: 'arm.yml:32:22: note: depends_on[1]: depends on a skipped pipeline: "arm" is skipped (platform arch "arm" runs on another runner: Fargate runs amd64 and arm64 (Fargate has no 32-bit ARM)), so "notify" does not wait for it and waits for "deploy", as in Drone',
    });
  });

  it('lints several files and fails if one is invalid', async () => {
    const r = await lint('.drone.yml', 'bad.yml', 'warn.yml');
    expect(r.code).toBe(1);
    expect(r.out.split('\n')).toEqual(['.drone.yml: 2 pipelines, 3 steps, 1 service: ok', 'warn.yml: 1 pipeline, 1 step, 0 services, 1 warning: ok']);
  });

  // Pipelines over ECS's 10 containers run as consecutive tasks where they can be cut
  // (docs/design/split-pipelines.md): lint says so as a note; one that cannot be cut stays an
  // error, at its steps: line, saying why.
  const manySteps = (n: number) => Array.from({ length: n }, (_, i) => `- name: s${i + 1}\n  image: img${i + 1}\n  commands: [echo ${i + 1}]\n`).join('');
  it('notes that a pipeline over 10 containers runs as consecutive tasks, and passes', async () => {
    writeFileSync(join(dir, 'split.yml'), `kind: pipeline\nname: big\n\nsteps:\n${manySteps(12)}`);
    const r = await lint('split.yml');
    expect(r.code).toBe(0);
    expect(r.out).toBe('split.yml: 1 pipeline, 12 steps, 0 services, 1 note: ok');
    expect(r.err).toMatch(/^split\.yml:4:1: note: steps: runs as consecutive tasks: pipeline "big" needs 13 containers but ECS allows 10 per task, so it runs as 2 consecutive tasks of one stage, each starting from the workspace and step results the one before left/);
    expect(r.err).toContain('upload and download');
    expect(r.err).not.toMatch(/error/);
  });

  it('keeps a pipeline that cannot be split an error at its steps: line, with why', async () => {
    // A service that serves the workspace cannot move to a task of its own (segments.ts).
    writeFileSync(join(dir, 'unsplittable.yml'), `kind: pipeline\nname: big\nservices:\n- name: web\n  image: php:8\n  commands: [php -S 0.0.0.0:80 -t /drone/src]\n  ready: { ports: [80] }\nsteps:\n${manySteps(12)}`);
    const r = await lint('unsplittable.yml');
    expect(r.code).toBe(1);
    const lines = r.err.split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^unsplittable\.yml:8:1: error: steps: too many containers: pipeline "big" needs 14 containers .*; it cannot be split into several tasks either: .* but service "web" reads the workspace \/drone\/src \(its commands: "php -S 0\.0\.0\.0:80 -t \/drone\/src"\)$/);
    expect(lines[1]).toBe('unsplittable.yml: invalid (1 error)');
  });

  it('says which byte is not UTF-8', async () => {
    expect(await lint('binary.yml')).toMatchObject({ code: 1, err: expect.stringContaining('binary.yml:1:3: error: file is not UTF-8 text: invalid byte 0xFF') });
  });

  it('refuses a file over the size limit without reading it', async () => {
    expect(await lint('huge.yml')).toMatchObject({ code: 1, err: expect.stringContaining('huge.yml:1:1: error: file is 2097152 bytes; the limit is 1048576 bytes (1 MiB)') });
  });

  it('--quiet prints nothing for a valid file', async () => {
    expect(await lint('--quiet')).toEqual({ code: 0, out: '', err: '' });
  });

  it.each([
    [['missing.yml'], 'slipway lint: cannot read missing.yml: no such file'],
    [['sub'], 'slipway lint: sub is a directory; pass the pipeline file (e.g. sub/.drone.yml)'],
    [['--format=json'], 'slipway lint: unknown option "--format=json"'],
  ])('exits 2 on a usage error: %j', async (args, message) => {
    const r = await lint(...args);
    expect(r.code).toBe(2);
    expect(r.err.split('\n')[0]).toBe(message);
  });

  it('--help prints the usage and exits 0', async () => {
    const r = await lint('--help');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^usage: slipway lint/);
  });
});

describe('slipway lint (the real command)', () => {
  const bin = resolve(__dirname, '../../bin/slipway.js');
  const run = (...args: string[]) => spawnSync(process.execPath, [bin, 'lint', ...args], { cwd: dir, encoding: 'utf8', timeout: HANG_GUARD_MS });

  it.each([
    [[], 0],
    [['bad.yml'], 1],
    [['missing.yml'], 2],
  ])('lint %j exits %i with no stack trace', (args, code) => {
    const r = run(...args);
    expect(r.status).toBe(code);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    if (code === 1) expect(r.stderr).toContain('bad.yml:4:10: error: steps[0].image: expected a string, got a list');
  });
});
