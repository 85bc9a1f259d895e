import { describe, expect, it } from 'vitest';
import { SUBSTITUTION_LIMITS, SubstitutionError, pathMatch, substitute } from '../../core/pipeline/substitute.js';
import { loadManifest } from '../../core/pipeline/load.js';
import { substitutionLookup } from '../../core/pipeline/environment.js';
import { withStageSubstitution } from '../../core/pipeline/stage-substitution.js';
import { cliContext } from '../../cli/commands/compile.js';
import { WorkLimitExceeded, WorkMeter, metered } from '../../core/pipeline/work.js';

const run = (input: string, params: Record<string, string> = {}) => substitute(input, (name) => params[name] ?? '').text;

// drone/envsubst v1.0.3 (the version drone-runner-docker's go.mod pins), eval_test.go TestExpand,
// cases sourced there from tldp.org's parameter-substitution page.
const EVAL_TABLE: { params: Record<string, string>; input: string; output: string }[] = [
  { params: {}, input: 'abcdEFGH28ij', output: 'abcdEFGH28ij' },
  { params: { var01: 'abcdEFGH28ij' }, input: '${#var01}', output: '12' },
  { params: { var01: 'abcdEFGH28ij' }, input: '${var01^}', output: 'AbcdEFGH28ij' },
  { params: { var01: 'abcdEFGH28ij' }, input: '${var01^^}', output: 'ABCDEFGH28IJ' },
  { params: { var01: 'ABCDEFGH28IJ' }, input: '${var01,}', output: 'aBCDEFGH28IJ' },
  { params: { var01: 'ABCDEFGH28IJ' }, input: '${var01,,}', output: 'abcdefgh28ij' },
  { params: { path_name: '/home/bozo/ideas/thoughts.for.today' }, input: '${path_name:11}', output: 'ideas/thoughts.for.today' },
  { params: { path_name: '/home/bozo/ideas/thoughts.for.today' }, input: '${path_name:11:5}', output: 'ideas' },
  { params: { var: 'abc' }, input: '${var=xyz}', output: 'abc' },
  { params: {}, input: '${var=xyz}', output: 'xyz' },
  { params: { default_var: 'foo' }, input: 'something ${var=${default_var}}', output: 'something foo' },
  { params: { default_var: 'foo1' }, input: 'foo: ${var=${default_var}-suffix}', output: 'foo: foo1-suffix' },
  { params: { default_var: 'foo1' }, input: 'foo: ${var=prefix${default_var}-suffix}', output: 'foo: prefixfoo1-suffix' },
  { params: {}, input: '${var:=xyz}', output: 'xyz' },
  { params: { stringZ: 'abcABC123ABCabc' }, input: '${stringZ/%abc/XYZ}', output: 'abcABC123ABCXYZ' },
  { params: { stringZ: 'abcABC123ABCabc' }, input: '${stringZ/#abc/XYZ}', output: 'XYZABC123ABCabc' },
  { params: { stringZ: 'abcABC123ABCabc' }, input: '${stringZ//abc/xyz}', output: 'xyzABC123ABCxyz' },
  { params: { stringZ: 'abcABC123ABCabc' }, input: '${stringZ/abc/xyz}', output: 'xyzABC123ABCabc' },
  { params: { filename: 'bash.string.txt' }, input: '${filename#*.}', output: 'string.txt' },
  { params: { filename: 'path/to/file' }, input: '${filename#*/}', output: 'to/file' },
  { params: { filename: '/path/to/file' }, input: '${filename#*/}', output: 'path/to/file' },
  { params: { filename: 'bash.string.txt' }, input: '${filename##*.}', output: 'txt' },
  { params: { filename: 'path/to/file' }, input: '${filename##*/}', output: 'file' },
  { params: { filename: '/path/to/file' }, input: '${filename##*/}', output: 'file' },
  { params: { filename: 'bash.string.txt' }, input: '${filename%.*}', output: 'bash.string' },
  { params: { filename: 'bash.string.txt' }, input: '${filename%%.*}', output: 'bash' },
  { params: { var01: 'abcdEFGH28ij' }, input: '${var=${var01^^}}', output: 'ABCDEFGH28IJ' },
  { params: { var01: 'abcdEFGH28ij' }, input: '$${var01}', output: '${var01}' },
  {
    params: { var01: 'abcdEFGH28ij' },
    input: 'some text ${var01}$${var$${var01}$var01${var01}',
    output: 'some text abcdEFGH28ij${var${var01}$var01abcdEFGH28ij',
  },
  { params: { default_var: 'foo' }, input: 'something $${var=${default_var}}', output: 'something ${var=foo}' },
  { params: { stringZ: 'foo/bar' }, input: '${stringZ/\\//-}', output: 'foo-bar' },
  { params: { stringZ: 'foo/bar/baz' }, input: '${stringZ//\\//-}', output: 'foo-bar-baz' },
  { params: { stringZ: 'foo.bar' }, input: '${stringZ/./}', output: 'foobar' },
];

// funcs_test.go, through the grammar.
const FUNCS_TABLE: { params: Record<string, string>; input: string; output: string }[] = [
  { params: { v: 'Hello World' }, input: '${#v}', output: '11' },
  { params: { v: 'Hello World' }, input: '${v,,}', output: 'hello world' },
  { params: { v: 'HELLO WORLD' }, input: '${v,}', output: 'hELLO WORLD' },
  { params: { v: '' }, input: '${v,}${v^}', output: '' },
  { params: { v: 'hello world' }, input: '${v^}', output: 'Hello world' },
  { params: { v: 'Hello World' }, input: '${v:-Hola Mundo}', output: 'Hello World' },
  { params: {}, input: '${v:-Hola Mundo}', output: 'Hola Mundo' },
  { params: { d: '123456789123456789' }, input: '${d:0:8}', output: '12345678' },
  { params: { d: '123456789123456789' }, input: '${d:1:8}', output: '23456789' },
  { params: { d: '123456789123456789' }, input: '${d:9}', output: '123456789' },
  { params: { d: '123456789123456789' }, input: '${d:9:50}', output: '123456789' },
  // A negative position reaches toSubstr only through a nested value (`:-` is the default operator).
  { params: { d: '123456789123456789', n: '-3' }, input: '${d:${n}:2}', output: '78' },
  { params: { d: '123456789123456789', n: '-300' }, input: '${d:${n}:3}', output: '123' },
  { params: { d: '12345678' }, input: '${d:9:1}', output: '' },
];

describe('substitute: drone/envsubst v1.0.3 test tables', () => {
  for (const t of [...EVAL_TABLE, ...FUNCS_TABLE]) {
    it(`${t.input} → ${t.output}`, () => {
      expect(run(t.input, t.params)).toBe(t.output);
    });
  }
});

describe('substitute: what real .drone.yml files rely on', () => {
  const build = {
    DRONE_REPO_NAME: 'app',
    DRONE_COMMIT_SHA: '0123456789abcdef0123456789abcdef01234567',
    DRONE_BRANCH: 'feature/login',
    DRONE_TAG: 'v1.2.3',
  };

  it('fills plugin settings and commands that sh could not expand (${DRONE_COMMIT_SHA:0:8})', () => {
    const file = 'settings:\n  repo: org/${DRONE_REPO_NAME}\n  tags: ${DRONE_COMMIT_SHA:0:8}\ncommands:\n  - echo ${DRONE_BRANCH/\\//-} ${DRONE_TAG##v}\n';
    expect(run(file, build)).toBe('settings:\n  repo: org/app\n  tags: 01234567\ncommands:\n  - echo feature-login 1.2.3\n');
  });

  it('gives "" for names it does not know, as Drone does (so a shell variable needs $${NAME})', () => {
    expect(run('echo ${HOME} $${HOME} $HOME', build)).toBe('echo  ${HOME} $HOME');
  });

  it('turns \\\\ into \\ and \\/ into / outside ${…} too, as envsubst v1.0.3 does', () => {
    expect(run('\\\\something ${var=${default_var}}', { default_var: 'foo' })).toBe('\\something foo');
    expect(run('a\\/b \\n', {})).toBe('a/b \\n');
  });

  it('writes a value with a newline as a Go quoted string on one line (runner.go %q), so no line is added', () => {
    const out = substitute('a: ${M}\nb: 1\n', (n) => (n === 'M' ? 'fix: "x"\n\nbody\ttab' : ''));
    expect(out.text).toBe('a: "fix: \\"x\\"\\n\\nbody\\ttab"\nb: 1\n');
  });

  it('leaves an expression as written when the lookup keeps its name', () => {
    const out = substitute('n: ${DRONE_STAGE_NAME:0:3} ${A}', (n) => (n === 'A' ? 'x' : undefined));
    expect(out.text).toBe('n: ${DRONE_STAGE_NAME:0:3} x');
    expect(substitute('${A} ${B:-${S}}', (n) => ({ A: 'a', B: '' })[n]).text).toBe('a ${B:-${S}}');
  });

  it('maps each offset of the result back to the file as written', () => {
    const source = 'x: ${LONG}\ny: ${DRONE_COMMIT_SHA:0:8} z\nw: 1';
    const out = substitute(source, (n) => ({ LONG: 'a'.repeat(50), DRONE_COMMIT_SHA: build.DRONE_COMMIT_SHA })[n] ?? '');
    const z = out.text.indexOf(' z');
    expect(out.origin(z)).toBe(source.indexOf(' z'));
    expect(out.origin(out.text.indexOf('w: 1'))).toBe(source.indexOf('w: 1'));
    // Inside a substituted value: the `${` it came from.
    expect(out.origin(out.text.indexOf('aaaa') + 10)).toBe(source.indexOf('${LONG}'));
  });
});

describe('substitute: errors say where and what, as envsubst refuses the file', () => {
  const cases: [string, string][] = [
    ['a: ${}', 'unable to parse variable name'],
    ['a: ${ A}', 'unable to parse variable name'],
    ['a: ${A-b}', 'missing closing brace'],
    ['a: ${A', 'missing closing brace'],
    ['a: ${A:}', 'unable to parse substitution within function'],
    ['a: ${A:-x', 'unable to parse substitution within function'],
    ['a: ${A/x}', 'bad substitution'],
    ['a: ${A^x}', 'bad substitution'],
    ['a: ${#}', 'bad substitution'],
  ];
  for (const [input, reason] of cases) {
    it(`${input}: ${reason}`, () => {
      let error: unknown;
      try {
        run(input, { A: 'v' });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(SubstitutionError);
      expect((error as SubstitutionError).reason).toBe(reason);
      expect((error as SubstitutionError).offset).toBe(3);
      expect((error as SubstitutionError).message).toContain('write $${ for a literal ${');
    });
  }
});

describe("substitute: envsubst's path.Match patterns (* and ? match / too)", () => {
  const table: [string, string, boolean | 'bad'][] = [
    ['*', 'abc', true],
    ['*', 'a/b', true],
    ['a?c', 'abc', true],
    ['a?c', 'a/c', true],
    ['a?c', 'ac', false],
    ['*/', 'org/', true],
    ['[a-c]x', 'bx', true],
    ['[^a-c]x', 'bx', false],
    ['[\\]]', ']', true],
    ['\\*', '*', true],
    ['[', 'a', 'bad'],
    ['a\\', 'ab', 'bad'],
    ['*.txt', 'a.b.txt', true],
  ];
  for (const [pattern, name, want] of table) {
    it(`${pattern} ~ ${name}: ${want}`, () => expect(pathMatch(pattern, name)).toBe(want));
  }
  it('leaves the value as it is for a malformed pattern (envsubst ignores the error)', () => {
    expect(run('${F#[}', { F: 'abc' })).toBe('abc');
  });
});

describe('substitute: a hostile file stays cheap', () => {
  it('refuses nesting deeper than the limit', () => {
    const deep = `${'${A:-'.repeat(SUBSTITUTION_LIMITS.maxDepth + 1)}x${'}'.repeat(SUBSTITUTION_LIMITS.maxDepth + 1)}`;
    expect(() => run(deep)).toThrow(/nested more than/);
  });

  it('refuses a result over the file limit', () => {
    const big = 'x'.repeat(64 * 1024);
    expect(() => run('${B}'.repeat(20), { B: big })).toThrow(/over 1048576 characters once substituted/);
  });

  it('counts its work on the active meter', () => {
    const meter = new WorkMeter(1_000);
    expect(() => metered(meter, () => run('${F##*a}'.repeat(10), { F: 'b'.repeat(200) }))).toThrow(WorkLimitExceeded);
  });
});

describe('loadManifest with substitution: diagnostics point at the file as written', () => {
  const values = (n: string) => ({ LONG: 'x'.repeat(40), MULTI: 'a\nb\nc' })[n] ?? '';

  it('keeps lines and columns when values change line lengths or hold newlines', () => {
    const text = [
      'kind: pipeline', // 1
      'type: docker', // 2
      'name: ${LONG}', // 3
      'steps:', // 4
      '- name: a', // 5
      '  image: alpine', // 6
      '  commands: [echo ${MULTI}]', // 7
      '  bogus_key: ${LONG} 1', // 8
    ].join('\n');
    const manifest = loadManifest('.drone.yml', text, { substitute: values });
    const unknown = manifest.diagnostics.find((d) => d.message.includes('bogus_key'));
    expect(unknown).toMatchObject({ line: 8, column: 3 });
    expect(manifest.pipelines[0]?.name).toBe('x'.repeat(40));
    expect(manifest.pipelines[0]?.steps[0]?.commands).toEqual(['echo "a\\nb\\nc"']);
    expect(manifest.pipelines[0]?.steps[0]?.pos).toEqual({ line: 5, column: 3 });
  });

  it('reports a ${…} it cannot read at its place', () => {
    const manifest = loadManifest('.drone.yml', 'kind: pipeline\nname: ${A:}\n', { substitute: values });
    expect(manifest.diagnostics).toEqual([
      expect.objectContaining({ line: 2, column: 7, severity: 'error', message: expect.stringMatching(/^substitution: unable to parse substitution within function in "\$\{A:\}"/) }),
    ]);
  });
});

// drone/runner-go pipeline/runtime/runner.go: each stage's runner substitutes the raw file with
// environ.Stage(stage) among its values (environ.go: DRONE_STAGE_NAME, _NUMBER, _OS, _ARCH,
// _DEPENDS_ON, …), then reads its own pipeline; no step is known then, so DRONE_STEP_* are "".
describe('per-stage substitution: ${DRONE_STAGE_*} takes each pipeline\'s own values', () => {
  const file = [
    'kind: pipeline',
    'type: docker',
    'name: backend',
    'steps:',
    '- name: show',
    '  image: alpine',
    '  commands: ["echo ${DRONE_STAGE_NAME}/${DRONE_STAGE_NUMBER}/${DRONE_STAGE_NAME:0:4}/${DRONE_STAGE_ARCH}/[${DRONE_STEP_NAME}]/${DRONE_REPO_NAME}"]',
    '---',
    'kind: pipeline',
    'type: docker',
    'name: frontend',
    'platform: { arch: arm64 }',
    'depends_on: [backend]',
    'steps:',
    '- name: show',
    '  image: alpine',
    '  commands: ["echo ${DRONE_STAGE_NAME}/${DRONE_STAGE_NUMBER}/${DRONE_STAGE_DEPENDS_ON}/${DRONE_STAGE_ARCH}"]',
  ].join('\n');
  const ctx = cliContext({ repo: 'acme/app' });

  it('gives each pipeline its own name, number, arch and depends_on; step variables are empty', () => {
    const manifest = withStageSubstitution('.drone.yml', file, ctx, loadManifest('.drone.yml', file, { substitute: substitutionLookup(ctx) }));
    expect(manifest.pipelines.map((p) => p.steps[0]!.commands)).toEqual([['echo backend/1/back/amd64/[]/app'], ['echo frontend/2/backend/arm64']]);
    expect(manifest.errors).toEqual([]);
  });

  it('a file read once leaves them as written; one that names none is not read again', () => {
    const once = loadManifest('.drone.yml', file, { substitute: substitutionLookup(ctx) });
    expect(once.pipelines[1]!.steps[0]!.commands).toEqual(['echo ${DRONE_STAGE_NAME}/${DRONE_STAGE_NUMBER}/${DRONE_STAGE_DEPENDS_ON}/${DRONE_STAGE_ARCH}']);
    const plain = file.replaceAll('DRONE_STAGE_', 'DRONE_BUILD_');
    const manifest = loadManifest('.drone.yml', plain, { substitute: substitutionLookup(ctx) });
    expect(withStageSubstitution('.drone.yml', plain, ctx, manifest)).toBe(manifest);
  });
});
