// Which of a build's secret references do not exist, asked before the build starts. ECS
// fetches every secret of a task before any container starts, and one missing reference
// stops the whole task (ResourceInitializationError): a chat webhook used only by a failure
// notifier would fail every build. The planner leaves the missing ones out instead, as Drone
// leaves them empty (core/pipeline/compile.ts, absentSecrets).
//
// Metadata only, never a value: SSM DescribeParameters with a Name filter, Secrets Manager
// DescribeSecret.

import { DescribeParametersCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { DescribeSecretCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { isNotFound } from '../../core/util/aws-errors.js';
import type { CompileResult } from '../../core/pipeline/compile.js';

/** The references (`valueFrom` / `credentialsParameter`, as compiled) that do not exist. */
export type SecretCheck = (references: readonly string[]) => Promise<ReadonlySet<string>>;

/** A check that could not answer (throttled, denied, network): the build goes on unchecked. */
export class SecretCheckError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SecretCheckError';
  }
}

type Parsed = { source: 'ssm'; name: string } | { source: 'asm'; secretId: string };

const SECRETS_MANAGER_ARN = /^(arn:aws[\w-]*:secretsmanager:[^:]*:[^:]*:secret:[^:]+)(?::[^:]*:[^:]*:[^:]*)?$/;
const SSM_ARN = /^arn:aws[\w-]*:ssm:[^:]*:[^:]*:parameter(\/.*)$/;

/** A Secrets Manager ARN without its JSON key part, or an SSM parameter's name. */
export function parseReference(reference: string): Parsed {
  const asm = SECRETS_MANAGER_ARN.exec(reference);
  if (asm) return { source: 'asm', secretId: asm[1]! };
  const ssm = SSM_ARN.exec(reference);
  return { source: 'ssm', name: ssm ? ssm[1]! : reference };
}

/** Every secret reference of the compiled stages (containers' `secrets`, `repositoryCredentials`), except `ignore`. */
export function secretReferencesOf(result: CompileResult, ignore: readonly (string | undefined)[] = []): string[] {
  const refs = new Set<string>();
  for (const stage of result.stages) {
    for (const c of stage.taskDefinition.containerDefinitions ?? []) {
      for (const s of c.secrets ?? []) if (s.valueFrom) refs.add(s.valueFrom);
      if (c.repositoryCredentials?.credentialsParameter) refs.add(c.repositoryCredentials.credentialsParameter);
    }
  }
  for (const skip of ignore) if (skip) refs.delete(skip);
  return [...refs].sort();
}

/**
 * SSM: DescribeParameters, `ParameterFilters: [{Key: Name, Option: Equals, Values}]`, at most
 * 50 names per call (MaxResults 1–50), following NextToken: AWS may return fewer items than
 * asked, even none, with a token ("Request results are returned on a best-effort basis",
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DescribeParameters.html).
 * Secrets Manager: DescribeSecret per secret (a partial ARN, without the random suffix, is
 * accepted), ResourceNotFoundException when it does not exist
 * (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_DescribeSecret.html).
 */
export function awsSecretCheck(ssm: () => SSMClient, secretsManager: () => SecretsManagerClient): SecretCheck {
  return async (references) => {
    const parsed = references.map((ref) => ({ ref, p: parseReference(ref) }));
    const names = [...new Set(parsed.flatMap(({ p }) => (p.source === 'ssm' ? [p.name] : [])))];
    const secretIds = [...new Set(parsed.flatMap(({ p }) => (p.source === 'asm' ? [p.secretId] : [])))];
    const found = new Set<string>();
    const gone = new Set<string>();
    try {
      for (let i = 0; i < names.length; i += 50) {
        const chunk = names.slice(i, i + 50);
        let token: string | undefined;
        do {
          const out = await ssm().send(
            new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Name', Option: 'Equals', Values: chunk }], MaxResults: 50, ...(token ? { NextToken: token } : {}) }),
          );
          for (const p of out.Parameters ?? []) if (p.Name) found.add(p.Name);
          token = out.NextToken;
        } while (token);
      }
      await Promise.all(
        secretIds.map(async (id) => {
          try {
            await secretsManager().send(new DescribeSecretCommand({ SecretId: id }));
          } catch (err) {
            if (isNotFound(err)) gone.add(id);
            else throw err;
          }
        }),
      );
    } catch (err) {
      throw new SecretCheckError(`planner: could not check that the build's secrets exist: ${(err as Error).name}: ${(err as Error).message}`, { cause: err });
    }
    return new Set(parsed.filter(({ p }) => (p.source === 'ssm' ? !found.has(p.name) : gone.has(p.secretId))).map(({ ref }) => ref));
  };
}

/** Local mode: the local secret store (local/secrets.ts) answers. */
export function storeSecretCheck(has: (reference: string) => boolean): SecretCheck {
  return async (references) => new Set(references.filter((ref) => !has(ref)));
}
