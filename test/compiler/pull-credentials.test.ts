// image_pull_secrets → ECS repositoryCredentials (core/pipeline/pull-credentials.ts), with the
// planner's own options.
import { describe, expect, it } from 'vitest';
import { cliContext } from '../../cli/commands/compile.js';
import { CompileError, compileManifest } from '../../core/pipeline/compile.js';
import { isValid, loadManifest } from '../../core/pipeline/load.js';
import { FIXTURE_OPTIONS } from './support.js';

const push = cliContext({ repo: 'acme/app', commit: 'a'.repeat(40) });
const fork = cliContext({ repo: 'acme/app', event: 'pull_request', fork: true });

const yaml = (paths: string[], images: string[]) => `kind: pipeline
type: docker
name: p
image_pull_secrets: [${paths.map((_, i) => `pull${i}`).join(', ')}]
steps:
${images.map((image, i) => `  - name: s${i}\n    image: ${image}\n    commands: [x]\n`).join('')}
${paths.map((path, i) => `---\nkind: secret\nname: pull${i}\nget:\n  path: ${path}\n`).join('')}`;

function credentials(text: string, ctx = push, options = FIXTURE_OPTIONS) {
  const manifest = loadManifest('.drone.yml', text);
  if (!isValid(manifest)) throw new Error(manifest.diagnostics.map((d) => d.message).join('\n'));
  const result = compileManifest(manifest, ctx, options);
  if (result.errors.length > 0) throw new CompileError(result.errors.flatMap((e) => e.diagnostics));
  const stage = result.stages[0]!;
  return {
    byContainer: Object.fromEntries(stage.taskDefinition.containerDefinitions!.filter((c) => c.repositoryCredentials).map((c) => [c.name, c.repositoryCredentials!.credentialsParameter])),
    notes: stage.notes,
  };
}

const ARN = (path: string) => `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${path}`;

describe('image_pull_secrets as repositoryCredentials', () => {
  it('a secret named after its registry host serves that registry\'s images only, whatever else the pipeline pulls', () => {
    const out = credentials(
      yaml(['/slipway/acme/app/registry.example.com', '/slipway/acme/app/ghcr.io'], ['registry.example.com/team/a:1', 'ghcr.io/acme/b:2', 'alpine:3.20', '123456789012.dkr.ecr.eu-west-1.amazonaws.com/c:1']),
    );
    expect(out.byContainer).toEqual({ s0: ARN('/slipway/acme/app/registry.example.com'), s1: ARN('/slipway/acme/app/ghcr.io') });
  });

  it('one secret of another name serves the one private registry; Docker Hub and ECR images get none', () => {
    expect(credentials(yaml(['/slipway/acme/app/pull'], ['registry.example.com/team/a:1', 'postgres:16'])).byContainer).toEqual({ s0: ARN('/slipway/acme/app/pull') });
  });

  it('serves Docker Hub when that is the only registry outside ECR (a private Docker Hub repository)', () => {
    expect(credentials(yaml(['/slipway/acme/app/hub'], ['acme/private:1', '123456789012.dkr.ecr.eu-west-1.amazonaws.com/c:1'])).byContainer).toEqual({ s0: ARN('/slipway/acme/app/hub') });
  });

  it('says so when no image needs it (all in ECR)', () => {
    const out = credentials(yaml(['/slipway/acme/app/pull'], ['123456789012.dkr.ecr.eu-west-1.amazonaws.com/c:1']));
    expect(out.byContainer).toEqual({});
    expect(out.notes.join('\n')).toMatch(/image_pull_secrets "pull0" match no image of this pipeline outside ECR/);
  });

  it('withholds them from a pull request from a fork, like every secret', () => {
    const out = credentials(yaml(['/slipway/acme/app/pull'], ['registry.example.com/team/a:1']), fork);
    expect(out.byContainer).toEqual({});
    expect(out.notes.join('\n')).toMatch(/secrets withheld .*pull0/);
  });

  it('leaves out a secret the planner found missing, and says the image is pulled anonymously', () => {
    const out = credentials(yaml(['/slipway/acme/app/pull'], ['registry.example.com/team/a:1']), push, { ...FIXTURE_OPTIONS, absentSecrets: new Set([ARN('/slipway/acme/app/pull')]) });
    expect(out.byContainer).toEqual({});
    expect(out.notes.join('\n')).toMatch(/"pull0" does not exist: s0 pull registry.example.com anonymously/);
  });

  // A JSON key holds a Docker config (`.dockerconfigjson`), as a repository secret does: the
  // planner reads it and writes each registry's login into a derived secret in ECS's form
  // (core/pipeline/docker-config.ts); the containers of that registry name the derived one.
  describe('Docker config pull secrets (a JSON key, or a repository secret)', () => {
    const withKey = yaml(['/slipway/acme/app/gcr'], ['registry.example.com/team/a:1', 'ghcr.io/acme/b:2', 'alpine:3.20']).replace('path: /slipway/acme/app/gcr', 'path: /slipway/acme/app/gcr\n  name: .dockerconfigjson');
    const read = (hosts: string[]) => ({ ...FIXTURE_OPTIONS, pullSecretLogins: (s: string) => (s === 'pull0' ? { kind: 'read' as const, hosts } : undefined) });

    it("each registry it has a login for pulls with that login's derived secret, the others anonymously", () => {
      const out = credentials(withKey, push, read(['registry.example.com', 'docker.io']));
      expect(out.byContainer).toEqual({ s0: ARN('/slipway/acme/app/slipway-pull.pull0.registry.example.com'), s2: ARN('/slipway/acme/app/slipway-pull.pull0.docker.io') });
      expect(out.notes).toEqual([]);
    });

    it('a repository secret (no kind: secret document) is a Docker config too', () => {
      const text = 'kind: pipeline\ntype: docker\nname: p\nimage_pull_secrets: [dockerconfig]\nsteps:\n  - name: s0\n    image: registry.example.com:5000/team/a:1\n    commands: [x]\n';
      const out = credentials(text, push, { ...FIXTURE_OPTIONS, pullSecretLogins: () => ({ kind: 'read', hosts: ['registry.example.com:5000'] }) });
      expect(out.byContainer).toEqual({ s0: ARN('/slipway/acme/app/slipway-pull.dockerconfig.registry.example.com_5000') });
    });

    it('not read (slipway compile): applied to nothing, and the stage says the planner reads it', () => {
      const out = credentials(withKey);
      expect(out.byContainer).toEqual({});
      expect(out.notes.join('\n')).toMatch(/image_pull_secrets "pull0" holds a Docker config, which the planner reads when a build is planned/);
    });

    it('missing: pulled anonymously, said so; not a Docker config: an error that says what is expected, and no value', () => {
      expect(credentials(withKey, push, { ...FIXTURE_OPTIONS, pullSecretLogins: () => ({ kind: 'absent' }) }).notes.join('\n')).toMatch(/"pull0" does not exist: its images are pulled anonymously/);
      expect(() => credentials(withKey, push, { ...FIXTURE_OPTIONS, pullSecretLogins: () => ({ kind: 'invalid', message: 'it is not JSON' }) })).toThrow(
        /image_pull_secrets: "pull0" \(the key "\.dockerconfigjson" of \/slipway\/acme\/app\/gcr\) cannot be read as a Docker config: it is not JSON/,
      );
    });

    it('a pull request from a fork gets none of it', () => {
      const out = credentials(withKey, fork, read(['registry.example.com']));
      expect(out.byContainer).toEqual({});
      expect(out.notes.join('\n')).toMatch(/secrets withheld from this build \(pull request from a fork\): pull0/);
    });

    it("another repository's Docker config is refused, never read: pulled anonymously, with the reason", () => {
      const out = credentials(withKey.replace('/slipway/acme/app/gcr', 'secret/data/common/gcr'));
      expect(out.byContainer).toEqual({});
      expect(out.notes.join('\n')).toMatch(/"secret\/data\/common\/gcr", which is not one of this repository's secrets/);
      expect(out.notes.join('\n')).toMatch(/image_pull_secrets "pull0" is refused \(see the note on it\): its images are pulled anonymously/);
    });
  });

  it("never reads another repository's secret: the image is pulled anonymously, and the notes say why", () => {
    const out = credentials(yaml(['/slipway/victim/repo/pull'], ['registry.example.com/team/a:1']));
    expect(out.byContainer).toEqual({});
    expect(out.notes.join('\n')).toMatch(/"\/slipway\/victim\/repo\/pull", which is not one of this repository's secrets/);
    expect(out.notes.join('\n')).toMatch(/image_pull_secrets "pull0" is refused .*: s0 pull registry.example.com anonymously/);
  });
});
