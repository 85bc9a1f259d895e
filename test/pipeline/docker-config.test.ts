// Drone's Docker config pull secrets (drone/runner-go registry/auths/auth.go), read into ECS's
// {"username", "password"} form per registry host (core/pipeline/docker-config.ts).
import { describe, expect, it } from 'vitest';
import { authHost, derivedPullSecretName, derivedPullSecretValue, dockerConfigPullSecrets, parseDockerConfig } from '../../core/pipeline/docker-config.js';
import { loadManifest } from '../../core/pipeline/load.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('parseDockerConfig', () => {
  it('reads `auth` (base64 of user:password, the password may hold colons) and username/password, by host', () => {
    const text = JSON.stringify({
      auths: {
        'https://index.docker.io/v1/': { auth: b64('hubuser:hub:pass') },
        'registry.example.com:5000': { auth: b64('ci:s3cret') },
        'GHCR.io': { username: 'bot', password: 'tok' },
      },
    });
    const parsed = parseDockerConfig(text);
    expect(parsed.ok && Object.fromEntries(parsed.logins)).toEqual({
      'docker.io': { username: 'hubuser', password: 'hub:pass' },
      'registry.example.com:5000': { username: 'ci', password: 's3cret' },
      'ghcr.io': { username: 'bot', password: 'tok' },
    });
  });

  it("maps Docker's names to an image's host as Drone's image.MatchHostname does", () => {
    expect(['index.docker.io', 'https://index.docker.io/v1/', 'registry-1.docker.io', 'docker.io'].map(authHost)).toEqual(['docker.io', 'docker.io', 'docker.io', 'docker.io']);
    expect(authHost('https://registry.example.com/v2/')).toBe('registry.example.com');
    expect(authHost('quay.io/team')).toBe('quay.io');
  });

  it('refuses what is not a Docker config, naming what is expected and never a value', () => {
    const secret = 'hunter2-not-json';
    const cases = [secret, JSON.stringify({ username: 'u', password: secret }), JSON.stringify({ auths: {} }), JSON.stringify({ auths: { 'x.io': { auth: b64(secret) } } })];
    const messages = cases.map((text) => {
      const parsed = parseDockerConfig(text);
      expect(parsed.ok).toBe(false);
      return parsed.ok ? '' : parsed.message;
    });
    expect(messages).toEqual([
      expect.stringContaining('it is not JSON'),
      expect.stringContaining('it has no "auths" map'),
      "its \"auths\" map is empty",
      expect.stringContaining('no login in it can be read (x.io'),
    ]);
    for (const m of messages) expect(m).not.toContain('hunter2');
  });
});

describe('derived secrets', () => {
  it('are named after the pull secret and the registry, one segment, no colon; hold ECS\'s form', () => {
    expect(derivedPullSecretName('dockerconfigjson', 'registry.example.com:5000')).toBe('slipway-pull.dockerconfigjson.registry.example.com_5000');
    expect(JSON.parse(derivedPullSecretValue({ username: 'u', password: 'p"w' }))).toEqual({ username: 'u', password: 'p"w' });
  });

  it('are planned for the Docker config pull secrets of each pipeline, with the hosts of its images outside ECR', () => {
    const manifest = loadManifest(
      '.drone.yml',
      `kind: pipeline
type: docker
name: a
image_pull_secrets: [dockerconfig, whole]
services:
- name: db
  image: registry.example.com/db:1
steps:
- name: s
  image: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/x:1
  commands: [x]
- name: t
  image: alpine
  commands: [x]
---
kind: pipeline
type: docker
name: b
image_pull_secrets: [gcr]
steps:
- name: s
  image: ghcr.io/acme/x:1
  commands: [x]
---
kind: secret
name: gcr
get: { path: /slipway/acme/app/gcr, name: .dockerconfigjson }
---
kind: secret
name: whole
get: { path: /slipway/acme/app/quay.io }
`,
    );
    expect(dockerConfigPullSecrets(manifest)).toEqual([
      { secret: 'dockerconfig', hosts: ['docker.io', 'registry.example.com'] },
      { secret: 'gcr', hosts: ['ghcr.io'] },
    ]);
  });
});
