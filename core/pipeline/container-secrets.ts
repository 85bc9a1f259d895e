// The secrets of the task's containers: `from_secret` environment as ECS `secrets`
// references, and `image_pull_secrets` as `repositoryCredentials`. Withheld from forks.

import type { CompileScope } from './compile-scope.js';
import type { BuildContext } from './context.js';
import type { ContainerDefinition, Secret } from './ecs-task.js';
import { derivedPullSecretName } from './docker-config.js';
import { planPullCredentials, registryHost } from './pull-credentials.js';
import { defaultSecretPath, secretsManagerRef } from './secret-refs.js';
import type { SecretDocument } from './types.js';

/** `secrets` of a container: references only, the values never pass through Slipway. */
export function secretsOf(secrets: Record<string, string>, c: CompileScope): { secrets?: Secret[] } {
  const names = Object.keys(secrets).sort();
  if (names.length === 0) return {};
  if (!c.withSecrets) {
    for (const name of names) c.withheld.add(secrets[name]!);
    return {};
  }
  const out: Secret[] = [];
  for (const name of names) {
    const valueFrom = c.secretRef(secrets[name]!);
    if (valueFrom === undefined) continue;
    if (c.options.absentSecrets?.has(valueFrom)) c.absent.add(secrets[name]!);
    else out.push({ name, valueFrom });
  }
  return out.length > 0 ? { secrets: out } : {};
}

/**
 * `image_pull_secrets` as ECS `repositoryCredentials` on the containers of each secret's
 * registry (pull-credentials.ts). Withheld from forks like every secret; left out, with a
 * note, when the planner found the secret missing.
 */
export function applyPullCredentials(containers: ContainerDefinition[], documents: SecretDocument[], c: CompileScope, notes: string[], ctx: BuildContext): void {
  const pathOf = c.options.secretPath ?? ((slug: string, name: string) => defaultSecretPath(slug, name, c.options.secretsPrefix));
  const plan = planPullCredentials(c.pipeline.imagePullSecrets, documents, containers.map((d) => d.image!), pathOf(ctx.repo.slug, ''), c.options.pullSecretLogins);
  if (!plan.ok) return c.fail(plan.document?.pos ?? c.pipeline.pos, plan.message);
  if (plan.unused.length > 0) {
    notes.push(`image_pull_secrets ${plan.unused.map((u) => `"${u}"`).join(', ')} match no image of this pipeline outside ECR (ECR images are pulled with the task execution role)`);
  }
  for (const secret of plan.unread) {
    if (!c.withSecrets) {
      c.withheld.add(secret);
      continue;
    }
    // A document naming another repository's secret is refused (noted by secretRef) and never read.
    const refused = c.secretRef(secret) === undefined;
    notes.push(
      refused
        ? `image_pull_secrets "${secret}" is refused (see the note on it): its images are pulled anonymously`
        : `image_pull_secrets "${secret}" holds a Docker config, which the planner reads when a build is planned: each registry's login in it goes to that registry's images`,
    );
  }
  for (const secret of plan.absent) notes.push(`image_pull_secrets "${secret}" does not exist: its images are pulled anonymously`);
  for (const [host, { secret, derived }] of plan.byHost) {
    const users = containers.filter((d) => registryHost(d.image!) === host);
    if (!c.withSecrets) {
      c.withheld.add(secret);
      continue;
    }
    const source = c.secretRef(secret);
    if (source === undefined) {
      notes.push(`image_pull_secrets "${secret}" is refused (see the note on it): ${users.map((d) => d.name).join(', ')} pull ${host} anonymously`);
      continue;
    }
    // The planner wrote this registry's login from the Docker config into the derived secret.
    const arn = derived ? secretsManagerRef(pathOf(ctx.repo.slug, derivedPullSecretName(secret, host)), undefined, c.options) : source;
    if (c.options.absentSecrets?.has(arn)) {
      notes.push(`image_pull_secrets "${secret}" does not exist: ${users.map((d) => d.name).join(', ')} pull ${host} anonymously`);
      continue;
    }
    for (const d of users) d.repositoryCredentials = { credentialsParameter: arn };
  }
}
