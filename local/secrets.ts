// Repository secrets of local mode: what SSM Parameter Store holds when deployed
// (`/slipway/<owner>/<repo>/<NAME>`), kept in one JSON file readable only by its owner
// (SLIPWAY_HOME, default ~/.slipway). The ECS stand-in resolves a container's
// `secrets[].valueFrom` (a parameter name or ARN) through it.

import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

export function slipwayHome(env: NodeJS.ProcessEnv): string {
  return env.SLIPWAY_HOME || join(homedir(), '.slipway');
}

export function secretPath(prefix: string, repo: string, name: string): string {
  return `${prefix.replace(/\/+$/, '')}/${repo}/${name}`;
}

/** `arn:aws:ssm:REGION:ACCOUNT:parameter/slipway/o/r/N` or `/slipway/o/r/N` → `/slipway/o/r/N`. */
export function parameterName(valueFrom: string): string {
  const m = /^arn:aws[\w-]*:ssm:[^:]*:[^:]*:parameter(\/.*)$/.exec(valueFrom);
  return m ? m[1]! : valueFrom;
}

export class LocalSecretStore {
  readonly file: string;

  constructor(home: string) {
    this.file = join(home, 'secrets.json');
  }

  private load(): Record<string, string> {
    if (!existsSync(this.file)) return {};
    const text = readFileSync(this.file, 'utf8');
    try {
      return JSON.parse(text) as Record<string, string>;
    } catch (err) {
      throw new Error(`local-secrets: ${this.file} is not JSON (${(err as Error).message}); fix or remove it`);
    }
  }

  private save(values: Record<string, string>): void {
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(values, null, 2)}\n`, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.file);
  }

  put(path: string, value: string): void {
    this.save({ ...this.load(), [path]: value });
  }

  /** Names under a path prefix, sorted. */
  list(prefix: string): string[] {
    const base = prefix.endsWith('/') ? prefix : `${prefix}/`;
    return Object.keys(this.load())
      .filter((k) => k.startsWith(base))
      .sort();
  }

  /** True when it existed. */
  remove(path: string): boolean {
    const values = this.load();
    if (!(path in values)) return false;
    delete values[path];
    this.save(values);
    return true;
  }

  /** A container secret's value; throws a message that says how to add it. */
  async resolve(valueFrom: string): Promise<string> {
    const name = parameterName(valueFrom);
    const value = this.load()[name];
    if (value === undefined) {
      const parts = name.split('/').filter(Boolean);
      const hint = parts.length >= 4 ? `slipway secrets add --repo ${parts.slice(1, -1).join('/')} ${parts.at(-1)}` : 'slipway secrets add';
      throw new Error(`local-secrets: secret ${name} is not set (add it with: ${hint})`);
    }
    return value;
  }
}
