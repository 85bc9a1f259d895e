// Settings from the environment only (the CDK stack sets them in AWS, local mode sets them
// locally). Each Lambda reads what it needs; a missing one is named in the error. The names
// are defined once, in core/config/lambda-env.ts, which the CDK construct uses too.

import { ENV, type EnvName } from '../../core/config/lambda-env.js';

export type Env = Record<string, string | undefined>;

export function requireEnv(env: Env, name: EnvName, why: string): string {
  const value = env[name];
  if (!value) throw new Error(`config: environment variable ${name} is not set (${why})`);
  return value;
}

/**
 * A setting the stack writes as JSON: its value parsed, or undefined when unset or blank; a value
 * that is not JSON fails with the parser's reason and `expected`, what the setting should hold.
 */
export function jsonEnv(env: Env, name: EnvName, expected: string): unknown {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  try {
    return JSON.parse(raw);
  } catch (error) {
    throw new Error(`config: ${name} is not JSON (${(error as Error).message}); ${expected}`);
  }
}

export function listEnv(env: Env, name: EnvName): string[] {
  return (env[name] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

export function numberEnv(env: Env, name: EnvName, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`config: ${name}=${JSON.stringify(raw)} is not a positive number`);
  return n;
}

/** `owner/name` entries of ALLOWED_REPOSITORIES; empty means every repository. */
export function allowedRepositories(env: Env): string[] {
  return listEnv(env, ENV.allowedRepositories);
}

export function isRepositoryAllowed(allowed: readonly string[], slug: string): boolean {
  return allowed.length === 0 || allowed.some((a) => a.toLowerCase() === slug.toLowerCase());
}
