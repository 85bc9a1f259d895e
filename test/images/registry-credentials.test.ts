import { describe, expect, it } from 'vitest';
import { registryCredentials } from '../../lambdas/shared/registry-credentials.js';

describe('registryCredentials', () => {
  it('keys logins by registry as image names spell it', () => {
    expect(
      registryCredentials({
        registries: {
          'https://index.docker.io/v1/': { username: 'hub', password: 'h' },
          'ghcr.io': { username: 'gh', password: 'g' },
          'localhost:5000': { username: 'l', password: 'p' },
        },
      }),
    ).toEqual({ 'docker.io': { username: 'hub', password: 'h' }, 'ghcr.io': { username: 'gh', password: 'g' }, 'localhost:5000': { username: 'l', password: 'p' } });
    expect(registryCredentials({ github: { token: 't', apiUrl: 'https://api.github.com' } })).toEqual({});
  });

  it('refuses a malformed entry, naming it, instead of ignoring it', () => {
    expect(() => registryCredentials({ registries: ['docker.io'] })).toThrow('config: the SCM credentials secret: "registries" should be an object like {"docker.io":{"username":"…","password":"…"}}');
    expect(() => registryCredentials({ registries: { 'docker.io': { username: 'u', password: '' } } })).toThrow(
      'config: the SCM credentials secret: "registries"."docker.io" should be {"username":"…","password":"…"} with both non-empty',
    );
  });
});
