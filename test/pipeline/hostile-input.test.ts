// Hostile `.drone.yml` files stay cheap to read, lint and match. Cost is asserted as
// work units (core/pipeline/work.ts), which are deterministic, never as wall-clock time.
import { describe, expect, it } from 'vitest';
import { conditionsMatch, type ConditionInput } from '../../core/pipeline/conditions.js';
import { formatDiagnostic } from '../../core/pipeline/format.js';
import { globMatch, MAX_PATTERN_LENGTH } from '../../core/pipeline/glob.js';
import { loadManifest } from '../../core/pipeline/load.js';
import { emptyConditions } from '../../core/pipeline/parse.js';
import type { Manifest } from '../../core/pipeline/types.js';
import { WorkLimitExceeded, WorkMeter, metered } from '../../core/pipeline/work.js';
import { YAML_LIMITS } from '../../core/pipeline/yaml-source.js';

const errors = (m: Manifest) => m.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic);

/** The work units `fn` spends (no limit). */
function cost<T>(fn: () => T): { result: T; units: number } {
  const meter = new WorkMeter(Number.MAX_SAFE_INTEGER);
  const result = metered(meter, fn);
  return { result, units: meter.used };
}

describe('glob: {…} alternatives are not expanded exponentially', () => {
  // The 230-byte trigger that took minutes: every group doubles doublestar's tries.
  it('a chain of 40 two-way groups that cannot match costs a few thousand units, not 2^40 tries', { timeout: 20_000 }, () => {
    const { result, units } = cost(() => globMatch(`${'{a,a}'.repeat(40)}b`, 'a'.repeat(40)));
    expect(result).toBe(false);
    expect(units).toBeLessThan(10_000);
  });

  it('cost grows polynomially with the number of groups (doubling the groups at most ~16x the units)', { timeout: 20_000 }, () => {
    const shapes = [
      (k: number) => [`${'{a,aa,aaa}'.repeat(k)}b`, 'a'.repeat(2 * k)] as const,
      (k: number) => [`${'*{a,*}'.repeat(k)}b`, 'a'.repeat(2 * k)] as const,
      (k: number) => [`${'{*,*a}'.repeat(k)}b`, 'a'.repeat(2 * k)] as const,
      (k: number) => [`${'{{a,a}'.repeat(k)}${'}'.repeat(k)}b`, 'a'.repeat(2 * k)] as const,
    ];
    for (const shape of shapes) {
      const [p1, n1] = shape(10);
      const [p2, n2] = shape(20);
      const small = cost(() => globMatch(p1, n1));
      const large = cost(() => globMatch(p2, n2));
      expect(small.result).toBe(false);
      expect(large.result).toBe(false);
      // 2^10 more tries if expanded; a cubic matcher over a doubled input: 8x, plus slack.
      expect(large.units / small.units, `${p1} → ${p2}`).toBeLessThan(16);
    }
  });

  it('still matches what doublestar matches through alternatives', () => {
    expect(globMatch('{a,a}{a,b}{c,d}', 'abd')).toBe(true);
    expect(globMatch(`${'{a,aa}'.repeat(10)}b`, `${'a'.repeat(15)}b`)).toBe(true);
    expect(globMatch('release/{v1,v2}.*', 'release/v2.3')).toBe(true);
    expect(globMatch('{a,{b,c}}', 'c}')).toBe(true); // doublestar v1.1.1 splits at the first '}'
  });

  it('a match over budget throws WorkLimitExceeded naming the phase', () => {
    const meter = new WorkMeter(1_000);
    expect(() => metered(meter, () => globMatch(`${'*{a,*}'.repeat(20)}b`, 'a'.repeat(40)))).toThrow(WorkLimitExceeded);
    expect(() => metered(new WorkMeter(1_000), () => globMatch(`${'*{a,*}'.repeat(20)}b`, 'a'.repeat(40)))).toThrow(/match when:\/trigger: patterns/);
  });

  it('conditionsMatch over many changed files spends the budget too', () => {
    const conditions = emptyConditions();
    conditions.paths.include = [`${'*{a,*}'.repeat(10)}b`];
    const input: ConditionInput = {
      action: '', branch: 'main', cron: '', event: 'push', instance: 'ci', ref: 'refs/heads/main', repo: 'o/r', target: '',
      paths: Array.from({ length: 200 }, (_, i) => `${'a'.repeat(30)}${i}`),
    };
    expect(() => metered(new WorkMeter(50_000), () => conditionsMatch(conditions, input))).toThrow(WorkLimitExceeded);
  });
});

describe('YAML: keys per map and nodes are bounded before anything compares keys', () => {
  const envFile = (keys: number, maps = 1) => {
    let y = 'kind: pipeline\nname: x\nsteps:\n';
    for (let m = 0; m < maps; m++) {
      y += `- name: s${m}\n  image: alpine\n  commands: [x]\n  environment:\n`;
      for (let i = 0; i < keys; i++) y += `    K${i}: v\n`;
    }
    return y;
  };

  const bigMap = (keys: number) => {
    let text = 'kind: pipeline\nname: x\nsteps: [{name: a, image: alpine, commands: [x]}]\n';
    for (let i = 0; i < keys; i++) text += `${i.toString(36)}: 1\n`;
    return text;
  };

  it('refuses a map of 100k keys (the 850 KB file that took 107 s) with one error, in bounded work', { timeout: 30_000 }, () => {
    const text = bigMap(100_000);
    expect(text.length).toBeLessThan(850_000);
    const { result, units } = cost(() => loadManifest('.drone.yml', text));
    // The token count stops this one first, while lexing.
    expect(errors(result)).toEqual([expect.stringMatching(new RegExp(`^\\.drone\\.yml:\\d+:\\d+: error: yaml: the file has more than ${YAML_LIMITS.maxTokens} tokens`))]);
    expect(units).toBeLessThan(10_000_000);
  });

  it('refuses a map of more keys than the limit at the first key over it', () => {
    const { result, units } = cost(() => loadManifest('.drone.yml', bigMap(5_000)));
    // The map's first three keys are kind, name and steps: key number 1001 is on that line.
    expect(errors(result)).toEqual([`.drone.yml:${YAML_LIMITS.maxKeysPerMap + 1}:1: error: yaml: a map with more than ${YAML_LIMITS.maxKeysPerMap} keys (the limit per map; split the data or keep it in a file the steps read)`]);
    expect(units).toBeLessThan(2_000_000);
  });

  it('reads 20 maps of 999 keys in linear work, and still reports a duplicate key where it is', { timeout: 30_000 }, () => {
    const one = cost(() => loadManifest('.drone.yml', envFile(999, 5)));
    const four = cost(() => loadManifest('.drone.yml', envFile(999, 20)));
    expect(errors(four.result)).toEqual([]);
    expect(four.units / one.units).toBeLessThan(5);
    const duplicated = `${envFile(999)}    K998: again\n`;
    const m = loadManifest('.drone.yml', duplicated);
    expect(errors(m)).toEqual([]);
    expect(m.diagnostics.map(formatDiagnostic)).toContain(`.drone.yml:${8 + 999}:5: warning: yaml: "K998" is written twice (first at line ${7 + 999}): the later value is used, as Drone uses it`);
  });

  // A map written twice under one key is merged into the first, as go-yaml does (repeated-keys.ts):
  // in place, so a key written many times, each with new entries, costs no more than its text.
  it('merges a map written many times under one key in linear work', { timeout: 30_000 }, () => {
    const repeated = (times: number) => {
      let y = 'kind: pipeline\nname: x\nsteps:\n- name: a\n  image: alpine\n  commands: [x]\n';
      for (let t = 0; t < times; t++) {
        y += '  environment:\n';
        for (let i = 0; i < 500; i++) y += `    K${t}_${i}: v\n`;
      }
      return y;
    };
    const few = cost(() => loadManifest('.drone.yml', repeated(5)));
    const many = cost(() => loadManifest('.drone.yml', repeated(20)));
    expect(errors(many.result)).toEqual([]);
    expect(Object.keys(many.result.pipelines[0]!.steps[0]!.environment)).toHaveLength(20 * 500);
    expect(many.units / few.units).toBeLessThan(5);
  });

  it('keeps the library rule that 1 and "1" are different keys', () => {
    const m = loadManifest('.drone.yml', 'kind: pipeline\nname: x\nsteps:\n- name: a\n  image: alpine\n  commands: [x]\n  settings:\n    1: a\n    "1": b\n');
    expect(errors(m)).toEqual([]);
  });

  it('refuses a file of more tokens than the limit at the token where it stops, without composing it', { timeout: 30_000 }, () => {
    const text = `kind: pipeline\nname: x\nsteps: [{name: a, image: alpine, commands: [${Array(400_000).fill('1').join(',')}]}]\n`;
    const { result } = cost(() => loadManifest('.drone.yml', text));
    expect(errors(result)).toHaveLength(1);
    expect(errors(result)[0]).toMatch(new RegExp(`^\\.drone\\.yml:3:\\d+: error: yaml: the file has more than ${YAML_LIMITS.maxTokens} tokens`));
  });

  it('refuses more nodes than the limit before composing (the token limit may stop it first)', { timeout: 30_000 }, () => {
    const text = `kind: pipeline\nname: x\nsteps: [{name: a, image: alpine, commands: [${Array(YAML_LIMITS.maxNodes + 10).fill('1').join(',')}]}]\n`;
    expect(errors(loadManifest('.drone.yml', text))).toEqual([
      expect.stringMatching(new RegExp(`^\\.drone\\.yml:3:\\d+: error: yaml: the file has more than (${YAML_LIMITS.maxNodes} nodes|${YAML_LIMITS.maxTokens} tokens)`)),
    ]);
  });

  it('refuses more nodes than the limit in a file under the token limit (a quoted scalar and its comma are 2 tokens)', { timeout: 30_000 }, () => {
    const items = Array(YAML_LIMITS.maxNodes + 10).fill('""').join(',');
    expect(2 * (YAML_LIMITS.maxNodes + 10)).toBeLessThan(YAML_LIMITS.maxTokens);
    const text = `kind: pipeline\nname: x\nsteps: [{name: a, image: alpine, commands: [${items}]}]\n`;
    expect(errors(loadManifest('.drone.yml', text))).toEqual([
      expect.stringMatching(new RegExp(`^\\.drone\\.yml:3:\\d+: error: yaml: the file has more than ${YAML_LIMITS.maxNodes} nodes `)),
    ]);
  });
});

describe('lint and the work budget', () => {
  it('refuses a pattern longer than the limit at its FILE:LINE:COLUMN', () => {
    const long = `feature/${'x'.repeat(MAX_PATTERN_LENGTH)}`;
    const m = loadManifest('.drone.yml', `kind: pipeline\nname: x\ntrigger:\n  branch: ["${long}"]\nsteps:\n- name: a\n  image: alpine\n  commands: [x]\n  when:\n    ref:\n      exclude: ["${long}"]\n`);
    expect(errors(m)).toEqual([
      `.drone.yml:4:11: error: trigger.branch: pattern too long: ${long.length} characters, at most ${MAX_PATTERN_LENGTH} (starts feature/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…)`,
      `.drone.yml:11:7: error: steps[0].when.ref: pattern too long: ${long.length} characters, at most ${MAX_PATTERN_LENGTH} (starts feature/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…)`,
    ]);
  });

  it('a file over the caller\'s budget is one error diagnostic that says what to simplify', () => {
    let text = 'kind: pipeline\nname: x\nservices:\n';
    for (let i = 0; i < 50; i++) text += `- {name: svc${i}, image: redis}\n`;
    text += 'steps:\n';
    for (let i = 0; i < 50; i++) text += `- {name: s${i}, image: plugins/x, settings: {a: svc${i}}}\n`;
    const m = metered(new WorkMeter(5_000), () => loadManifest('.drone.yml', text));
    expect(m.pipelines).toEqual([]);
    expect(errors(m)).toEqual([expect.stringMatching(/^\.drone\.yml:1:1: error: the pipeline file needs more than 5000 units of work to (read the YAML|check the pipelines) .*simplify it/)]);
    // Within the default budget the same file is fine.
    expect(errors(loadManifest('.drone.yml', text)).filter((e) => /units of work/.test(e))).toEqual([]);
  });

  it('thousands of services and plugin steps naming them lint in linear work', { timeout: 60_000 }, () => {
    const file = (n: number) => {
      let text = 'kind: pipeline\nname: x\nsteps:\n';
      for (let i = 0; i < n; i++) text += `- {name: s${i}, image: plugins/x, detach: true, settings: {a: "s${i}.x:1 s${(i + 1) % n}"}}\n`;
      return text;
    };
    const small = cost(() => loadManifest('.drone.yml', file(500)));
    const large = cost(() => loadManifest('.drone.yml', file(2_000)));
    expect(large.units / small.units).toBeLessThan(8); // quadratic would be 16
    expect(small.result.diagnostics.some((d) => d.message.includes('"s1"'))).toBe(true);
  });
});
