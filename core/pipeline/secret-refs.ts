// Where a secret's value lives (an SSM parameter or a Secrets Manager secret), as the
// `valueFrom` of a container's `secrets`.

import { COMPILE_PREFIX, type CompileOptions } from './compile-options.js';
import type { BuildContext } from './context.js';
import { SECRET_NAME } from './secret-names.js';
import type { Position, SecretDocument } from './types.js';

/**
 * Where a secret's value lives, or why this repository may not read it. A `kind: secret`
 * document with `get: { path, name }` names a Secrets Manager secret (and a JSON key in it);
 * any other name is a repository secret in SSM Parameter Store under
 * `/slipway/OWNER/NAME/SECRET`. Either way the secret must be the repository's own: the task
 * execution role can read every repository's secrets, so without this check one repository's
 * pipeline could name another's (`/slipway/victim/…`). A document naming a path outside the
 * repository's prefix is refused, not fatal: Drone runs a step whose secret its provider does
 * not give the repository (drone-vault checks the secret's `X-Drone-Repos` allow-list and answers
 * nothing), with the variable unset; the compiler leaves it out the same way and says why.
 */
/** How a refused secret's note reads (after the reason): the compiler's note, the corpus counts it. */
export const REFUSED_SECRET_NOTE = 'left out, its variables are unset (as Drone leaves a secret its provider does not give this repository)';

/** What of the compile options says where secrets live. */
export type SecretOptions = Pick<CompileOptions, 'secretPath' | 'secretsPrefix' | 'accountId' | 'partition' | 'region'>;

export type SecretRef = { ok: true; valueFrom: string } | { ok: false; path: string; message: string };

export function secretArn(
  secret: string,
  ctx: BuildContext,
  options: SecretOptions,
  documents: SecretDocument[],
  fail: (m: string, pos?: Position) => never,
): SecretRef {
  const pathOf = options.secretPath ?? ((slug: string, name: string) => defaultSecretPath(slug, name, options.secretsPrefix));
  const own = pathOf(ctx.repo.slug, '');
  const doc = documents.find((d) => d.name === secret);
  if (doc?.get) {
    const { path, name: key } = doc.get;
    // One segment under the prefix: `/slipway/org/repo/sub/x` is repository org/repo/sub's
    // secret x (GitLab subgroups nest), never org/repo's.
    if (!path.startsWith(own) || !SECRET_NAME.test(path.slice(own.length))) {
      return {
        ok: false,
        path,
        message:
          `secret "${secret}" reads ${JSON.stringify(path)}, which is not one of this repository's secrets: ` +
          `a secret document may only name a secret directly under ${own} (the repository's own prefix, one more segment: ` +
          'letters, digits, "_", "." and "-"; a deeper path belongs to a nested repository)',
      };
    }
    return { ok: true, valueFrom: secretsManagerRef(path, key, options) };
  }
  if (!SECRET_NAME.test(secret)) {
    fail(`from_secret "${secret}" is not a valid secret name: use letters, digits, "_", "." and "-", not "." or ".." (it is one segment of the parameter path ${own}NAME)`);
  }
  const path = pathOf(ctx.repo.slug, secret);
  return { ok: true, valueFrom: options.accountId ? `arn:${partitionOf(options)}:ssm:${options.region}:${options.accountId}:parameter${path}` : path };
}

/**
 * A Secrets Manager secret as ECS reads it. It must be an ARN: ECS takes a bare name in
 * `valueFrom` for an SSM parameter ("If the SSM Parameter Store parameter exists in the same
 * Region … you can use either the full ARN or name of the parameter", AWS::ECS::TaskDefinition
 * Secret, https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-ecs-taskdefinition-secret.html).
 * The ARN is partial (no `-XXXXXX` suffix Secrets Manager adds), which Secrets Manager
 * resolves as long as the name does not itself end in a hyphen and six characters
 * (DescribeSecret / GetSecretValue SecretId). A JSON key is `ARN:KEY::` (version stage and id
 * left empty: the current version), https://docs.aws.amazon.com/AmazonECS/latest/developerguide/secrets-envvar-secrets-manager.html.
 * A deployment setting that is missing is a plain Error (not the pipeline's fault).
 */
export function secretsManagerRef(path: string, key: string | undefined, options: Pick<CompileOptions, 'accountId' | 'partition' | 'region'>): string {
  if (!options.accountId) {
    throw new Error(`${COMPILE_PREFIX}the Secrets Manager secret ${path} needs the account id to make its ARN (ECS would read a bare name as an SSM parameter): set CompileOptions.accountId (the planner's ACCOUNT_ID)`);
  }
  const arn = `arn:${partitionOf(options)}:secretsmanager:${options.region}:${options.accountId}:secret:${path}`;
  return key ? `${arn}:${key}::` : arn;
}

function partitionOf(options: Pick<CompileOptions, 'partition'>): string {
  if (!options.partition) throw new Error(`${COMPILE_PREFIX}CompileOptions.partition is not set (the planner's PARTITION: aws, aws-cn or aws-us-gov); it is needed with accountId`);
  return options.partition;
}

export function defaultSecretPath(repoSlug: string, secret: string, prefix = '/slipway'): string {
  return `${prefix.replace(/\/+$/, '')}/${repoSlug}/${secret}`;
}

/** What a `valueFrom` names: a Secrets Manager secret (with a JSON key, maybe) or an SSM parameter. */
export type SecretReference = { source: 'asm'; name: string; key?: string } | { source: 'ssm'; name: string };

/**
 * `arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME[:KEY:STAGE:VERSION]` (ECS's form,
 * https://docs.aws.amazon.com/AmazonECS/latest/developerguide/secrets-envvar-secrets-manager.html);
 * anything else is an SSM parameter, by ARN or by name.
 */
export function secretReference(valueFrom: string): SecretReference {
  const m = /^arn:aws[\w-]*:secretsmanager:[^:]*:[^:]*:secret:([^:]+)(?::([^:]*):([^:]*):([^:]*))?$/.exec(valueFrom);
  if (m) return { source: 'asm', name: m[1]!, ...(m[2] ? { key: m[2] } : {}) };
  return { source: 'ssm', name: parameterName(valueFrom) };
}

/** `arn:aws:ssm:REGION:ACCOUNT:parameter/slipway/o/r/N` or `/slipway/o/r/N` → `/slipway/o/r/N`. */
export function parameterName(valueFrom: string): string {
  const m = /^arn:aws[\w-]*:ssm:[^:]*:[^:]*:parameter(\/.*)$/.exec(valueFrom);
  return m ? m[1]! : valueFrom;
}
