import { describe, expect, it } from 'vitest';
import { encodeSetting, pluginEnvironment } from '../../core/pipeline/plugin-settings.js';

describe('encodeSetting (Drone encoder rules)', () => {
  const table: Array<[string, unknown, string]> = [
    ['string', 'hello world', 'hello world'],
    ['string with commas stays whole', 'a,b', 'a,b'],
    ['empty string', '', ''],
    ['true', true, 'true'],
    ['false', false, 'false'],
    ['integer', 42, '42'],
    ['negative integer', -7, '-7'],
    ['zero', 0, '0'],
    ['large integer in full', 1e15, '1000000000000000'],
    ['float', 1.5, '1.5'],
    ['small float', 0.0001, '0.0001'],
    ['tiny float uses Go exponent form', 0.00001234, '1.234e-05'],
    ['big float uses Go exponent form', 1234567.5, '1.2345675e+06'],
    ['infinity', Infinity, '+Inf'],
    ['list of strings', ['a', 'b', 'c'], 'a,b,c'],
    ['list of mixed scalars', ['x', 1, true, 2.5], 'x,1,true,2.5'],
    ['list with null item', ['a', null, 'b'], 'a,,b'],
    ['empty list', [], ''],
    ['one-item list', ['only'], 'only'],
    ['map → JSON, keys sorted', { b: 1, a: 'x' }, '{"a":"x","b":1}'],
    ['nested map', { z: { y: [1, 2] }, a: null }, '{"a":null,"z":{"y":[1,2]}}'],
    ['keys sorted as strings like Go', { b: 1, '10': 2, '2': 3 }, '{"10":2,"2":3,"b":1}'],
    ['list of maps → JSON', [{ name: 'a', port: 80 }, { name: 'b' }], '[{"name":"a","port":80},{"name":"b"}]'],
    ['list of lists → JSON', [['a', 'b'], ['c']], '[["a","b"],["c"]]'],
    ['list mixing scalars and a map → JSON', ['a', { b: 1 }], '["a",{"b":1}]'],
    ['Go escapes <, >, & in JSON', { html: '<a href="x">&</a>' }, '{"html":"\\u003ca href=\\"x\\"\\u003e\\u0026\\u003c/a\\u003e"}'],
    ['empty map', {}, '{}'],
  ];
  it.each(table)('%s', (_name, value, want) => {
    expect(encodeSetting(value)).toBe(want);
  });
});

describe('pluginEnvironment', () => {
  it('names variables PLUGIN_ + the upper-cased key', () => {
    const { env, secrets } = pluginEnvironment({
      foo_bar: { value: 'x' },
      Repo: { value: 'octocat/hello' },
      tags: { value: ['latest', '1.0'] },
      dry_run: { value: false },
      build_args: { value: { A: '1', B: 2 } },
    });
    expect(env).toEqual({
      PLUGIN_FOO_BAR: 'x',
      PLUGIN_REPO: 'octocat/hello',
      PLUGIN_TAGS: 'latest,1.0',
      PLUGIN_DRY_RUN: 'false',
      PLUGIN_BUILD_ARGS: '{"A":"1","B":2}',
    });
    expect(secrets).toEqual({});
  });

  it('keeps characters other than case as written (Drone does not rewrite them)', () => {
    expect(pluginEnvironment({ 'cache-from': { value: 'a' } }).env).toEqual({ 'PLUGIN_CACHE-FROM': 'a' });
  });

  it('turns from_secret into a secret reference, not a value', () => {
    const { env, secrets } = pluginEnvironment({
      username: { value: 'octocat' },
      password: { fromSecret: 'docker_password' },
    });
    expect(env).toEqual({ PLUGIN_USERNAME: 'octocat' });
    expect(secrets).toEqual({ PLUGIN_PASSWORD: 'docker_password' });
  });

  it('leaves out null values', () => {
    expect(pluginEnvironment({ empty: { value: null }, set: { value: 'y' } }).env).toEqual({ PLUGIN_SET: 'y' });
  });
});
