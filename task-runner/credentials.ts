// Clone credentials (Drone's DRONE_NETRC_* variables) as a netrc file in a private
// temporary HOME: git's HTTP transport reads $HOME/.netrc, so the secret never appears on
// a command line (ps) nor in a URL that git might print.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { CloneError } from './clone-error.js';

export const NETRC_ENV = {
  machine: 'DRONE_NETRC_MACHINE',
  username: 'DRONE_NETRC_USERNAME',
  password: 'DRONE_NETRC_PASSWORD',
} as const;

export interface GitHome {
  /** The directory git runs with as HOME (0700), holding `.netrc` (0600) when credentials are given. */
  dir: string;
  hasCredentials: boolean;
  /** Values never to print (the password and username). */
  secrets: string[];
  dispose(): Promise<void>;
}

/**
 * netrc tokens are whitespace-separated: a value with whitespace or quotes cannot be
 * written safely. A clone failure (not an internal error) naming the variable, never its value.
 */
function netrcToken(value: string, what: string): string {
  const bad = /[\s"]/.exec(value);
  if (bad !== null) {
    const kind = bad[0] === '"' ? 'a double quote' : /[\r\n]/.test(bad[0]) ? 'a line break' : 'whitespace';
    throw new CloneError(
      `clone: ${what} contains ${kind}, which a netrc file cannot hold: ` +
        'check the secret for a stray space or newline (a token pasted with its line end), or use a token without them',
    );
  }
  return value;
}

export async function createGitHome(env: NodeJS.ProcessEnv): Promise<GitHome> {
  // mkdtemp creates the directory with mode 0700.
  const dir = await mkdtemp(join(tmpdir(), 'slipway-git-'));
  const machine = env[NETRC_ENV.machine] ?? '';
  const username = env[NETRC_ENV.username] ?? '';
  const password = env[NETRC_ENV.password] ?? '';
  const hasCredentials = machine !== '' && (username !== '' || password !== '');
  const secrets = [password, username].filter((value) => value.length >= 3);
  try {
    if (hasCredentials) {
      const line = `machine ${netrcToken(machine, NETRC_ENV.machine)} login ${netrcToken(username, NETRC_ENV.username)} password ${netrcToken(password, NETRC_ENV.password)}\n`;
      await writeFile(join(dir, '.netrc'), line, { mode: 0o600 });
    }
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    dir,
    hasCredentials,
    secrets,
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Removes every secret value from a line before it is printed. */
export function scrub(line: string, secrets: readonly string[]): string {
  let out = line;
  for (const secret of secrets) out = out.split(secret).join('********');
  return out;
}
