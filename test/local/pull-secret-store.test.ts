// Docker config pull secrets read and derived by the planner (core/pipeline/pull-logins.ts)
// against local mode's secret store (local/secrets.ts, localPullSecretStore), which is as strict
// as Secrets Manager: a derived secret is created, updated or left alone, and a secret of that
// name that Slipway did not write is never changed.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliContext } from '../../cli/commands/compile.js';
import { loadManifest } from '../../core/pipeline/load.js';
import { derivePullLogins } from '../../core/pipeline/pull-logins.js';
import { LocalSecretStore, localPullSecretStore } from '../../local/secrets.js';
import { FIXTURE_OPTIONS } from '../compiler/support.js';
import { compileManifest } from '../../core/pipeline/compile.js';

const ctx = cliContext({ repo: 'acme/app', commit: 'a'.repeat(40) });
const b64 = (s: string) => Buffer.from(s).toString('base64');
const config = (auths: Record<string, string>) => JSON.stringify({ auths: Object.fromEntries(Object.entries(auths).map(([host, login]) => [host, { auth: b64(login) }])) });

const FILE = `kind: pipeline
type: docker
name: deploy
image_pull_secrets: [dockerconfigjson]
services:
- name: db
  image: registry.example.com/team/db:1
steps:
- name: deploy
  image: ghcr.io/acme/deployer:2
  commands: [deploy]
- name: tool
  image: quay.io/team/tool:1
  commands: [tool]
---
kind: pipeline
type: docker
name: build
image_pull_secrets: [dockerconfig]
steps:
- name: build
  image: registry.example.com/team/builder:1
  commands: [make]
---
kind: pipeline
type: docker
name: elsewhere
image_pull_secrets: [vault]
steps:
- name: s
  image: registry.example.com/team/x:1
  commands: [x]
---
kind: secret
name: dockerconfigjson
get: { path: /slipway/acme/app/gcr, name: .dockerconfigjson }
---
kind: secret
name: vault
get: { path: secret/data/common/gcr, name: .dockerconfigjson }
`;

let dir: string;
let store: LocalSecretStore;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'slipway-pull-'));
  store = new LocalSecretStore(dir);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const manifest = () => loadManifest('.drone.yml', FILE);
const derive = () => derivePullLogins(manifest(), ctx, FIXTURE_OPTIONS, localPullSecretStore(store));

describe('Docker config pull secrets, derived into ECS form in the local store', () => {
  it("writes each registry's login the pipelines need, from a JSON key and from a repository secret; the compiler points at them", async () => {
    store.put('/slipway/acme/app/gcr', JSON.stringify({ '.dockerconfigjson': config({ 'ghcr.io': 'bot:gh-t0ken', 'https://registry.example.com': 'ci:r3g-pass', 'other.io': 'x:y' }) }));
    store.put('/slipway/acme/app/dockerconfig', config({ 'registry.example.com': 'builder:b-pass' }));
    const derived = await derive();
    expect(derived.written).toEqual([
      { name: '/slipway/acme/app/slipway-pull.dockerconfigjson.ghcr.io', outcome: 'created' },
      { name: '/slipway/acme/app/slipway-pull.dockerconfigjson.registry.example.com', outcome: 'created' },
      { name: '/slipway/acme/app/slipway-pull.dockerconfig.registry.example.com', outcome: 'created' },
    ]);
    expect(JSON.parse(store.get('/slipway/acme/app/slipway-pull.dockerconfigjson.ghcr.io')!)).toEqual({ username: 'bot', password: 'gh-t0ken' });
    expect(JSON.parse(store.get('/slipway/acme/app/slipway-pull.dockerconfig.registry.example.com')!)).toEqual({ username: 'builder', password: 'b-pass' });
    // Only the hosts its pipelines pull from (not other.io); another repository's path is never read.
    expect(derived.logins('dockerconfigjson')).toEqual({ kind: 'read', hosts: ['ghcr.io', 'registry.example.com'] });
    expect(derived.logins('vault')).toBeUndefined();

    const compiled = compileManifest(manifest(), ctx, { ...FIXTURE_OPTIONS, pullSecretLogins: derived.logins });
    const credentials = Object.fromEntries(compiled.stages.flatMap((s) => s.taskDefinition.containerDefinitions!.filter((c) => c.repositoryCredentials).map((c) => [`${s.name}/${c.name}`, c.repositoryCredentials!.credentialsParameter])));
    const arn = (name: string) => `arn:aws:secretsmanager:eu-west-1:123456789012:secret:/slipway/acme/app/${name}`;
    expect(credentials).toEqual({
      'deploy/db': arn('slipway-pull.dockerconfigjson.registry.example.com'),
      'deploy/deploy': arn('slipway-pull.dockerconfigjson.ghcr.io'),
      'build/build': arn('slipway-pull.dockerconfig.registry.example.com'),
    });
    // No value in any task definition or override.
    const everything = JSON.stringify(compiled);
    for (const value of ['gh-t0ken', 'r3g-pass', 'b-pass', b64('bot:gh-t0ken')]) expect(everything).not.toContain(value);
  });

  it('is idempotent: unchanged when the Docker config is, updated when it changes', async () => {
    store.put('/slipway/acme/app/gcr', JSON.stringify({ '.dockerconfigjson': config({ 'ghcr.io': 'bot:one' }) }));
    expect((await derive()).written.map((w) => w.outcome)).toEqual(['created']);
    expect((await derive()).written.map((w) => w.outcome)).toEqual(['unchanged']);
    store.put('/slipway/acme/app/gcr', JSON.stringify({ '.dockerconfigjson': config({ 'ghcr.io': 'bot:two' }) }));
    expect((await derive()).written.map((w) => w.outcome)).toEqual(['updated']);
    expect(JSON.parse(store.get('/slipway/acme/app/slipway-pull.dockerconfigjson.ghcr.io')!)).toEqual({ username: 'bot', password: 'two' });
    expect(JSON.parse(readFileSync(join(dir, 'secret-tags.json'), 'utf8'))).toEqual({ '/slipway/acme/app/slipway-pull.dockerconfigjson.ghcr.io': JSON.stringify({ 'slipway:derived': 'pull-credentials' }) });
  });

  it('never changes a secret of that name that Slipway did not write; a missing or broken Docker config says so', async () => {
    store.put('/slipway/acme/app/gcr', JSON.stringify({ '.dockerconfigjson': config({ 'ghcr.io': 'bot:one' }) }));
    store.put('/slipway/acme/app/slipway-pull.dockerconfigjson.ghcr.io', 'a value someone keeps here');
    store.put('/slipway/acme/app/dockerconfig', 'not json');
    const derived = await derive();
    expect(store.get('/slipway/acme/app/slipway-pull.dockerconfigjson.ghcr.io')).toBe('a value someone keeps here');
    expect(derived.logins('dockerconfigjson')).toEqual({ kind: 'invalid', message: expect.stringContaining('exists but was not written by Slipway (it has no tag slipway:derived)') });
    expect(derived.logins('dockerconfig')).toEqual({ kind: 'invalid', message: expect.stringContaining('it is not JSON') });
    store.remove('/slipway/acme/app/dockerconfig');
    store.put('/slipway/acme/app/gcr', 'hunter2 is not json');
    const again = await derive();
    expect(again.logins('dockerconfig')).toEqual({ kind: 'absent' });
    expect(again.logins('dockerconfigjson')).toEqual({ kind: 'invalid', message: 'the secret /slipway/acme/app/gcr is read by its key ".dockerconfigjson" but is not JSON holding text at that key' });
  });
});
