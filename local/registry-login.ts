// The local image registry's one login: made once per SLIPWAY_HOME, kept where only its owner
// reads it (as the other local secrets), and handed to the registry as an htpasswd line. Build
// tasks never read this file (SLIPWAY_HOME is hidden from them): the ECS stand-in gives the
// login only to the image build and manifest containers of tasks whose role may push
// (push-rights.ts), and the planner uses it to read images there (withLocalRegistryLogin).
import { randomBytes } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { lookupImageCommand } from '../adapters/registry/registry-client.js';
import type { ImageCommandLookup } from '../core/images/types.js';
import { HOST_ALIAS } from './ecs/sandbox.js';

export interface RegistryLogin {
  username: string;
  password: string;
}

export const REGISTRY_LOGIN_FILE = 'registry-login.json';
const USERNAME = 'slipway';
const BCRYPT_COST = 4;

/**
 * The login of the registry of this SLIPWAY_HOME: read, or made on first use (mode 0600).
 * Two processes starting at once agree: each writes its own temporary file in full, then links
 * it to the login's name, which fails with EEXIST for all but the first; they read the winner's.
 * The name never holds a partly written file (an exclusive create then a write would show an
 * empty one between the two).
 */
export function localRegistryLogin(home: string): RegistryLogin {
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const file = join(home, REGISTRY_LOGIN_FILE);
  const made: RegistryLogin = { username: USERNAME, password: randomBytes(24).toString('base64url') };
  const temporary = join(home, `.${REGISTRY_LOGIN_FILE}.${process.pid}.${randomBytes(6).toString('hex')}`);
  writeFileSync(temporary, `${JSON.stringify(made, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(temporary, file);
    return made;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    unlinkSync(temporary);
  }
  // Kept from an earlier start: narrowed to its owner should anything have widened it.
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  return parseLogin(readFileSync(file, 'utf8'), file);
}

function parseLogin(text: string, file: string): RegistryLogin {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`local image registry: ${file} is not JSON (${(error as Error).message}); remove it and a new login is made at the next start`);
  }
  const login = value as Partial<RegistryLogin> | null;
  if (!login || typeof login.username !== 'string' || typeof login.password !== 'string' || !/^[A-Za-z0-9._-]+$/.test(login.username) || login.password.length < 16) {
    throw new Error(`local image registry: ${file} should be {"username": "…", "password": "…"} (a password of 16 characters or more); remove it and a new login is made at the next start`);
  }
  return { username: login.username, password: login.password };
}

/**
 * `user:bcrypt-hash`, the only hash docker-registry's htpasswd accepts. The password is 192
 * random bits, so the work factor protects nothing here; the registry checks it on every
 * request of a push, so it is kept at bcrypt's least, 4 (golang.org/x/crypto/bcrypt MinCost,
 * which the registry's htpasswd check accepts).
 */
export function htpasswdLine(login: RegistryLogin): string {
  return `${login.username}:${bcrypt.hashSync(login.password, bcrypt.genSaltSync(BCRYPT_COST))}`;
}

/** The `Authorization` header of the login (HTTP Basic, as the registry's htpasswd wants it). */
export function basicAuthorization(login: RegistryLogin): string {
  return `Basic ${Buffer.from(`${login.username}:${login.password}`).toString('base64')}`;
}

/**
 * The planner's image lookups with the login for the local registry (plugin images pushed
 * there, read for their ENTRYPOINT as ECS would pull them). The planner runs on this machine,
 * where the registry is on loopback whatever name a task gives it (HOST_ALIAS in a namespace).
 */
export function withLocalRegistryLogin(lookup: ImageCommandLookup, port: number, login: RegistryLogin): ImageCommandLookup {
  const loopback = `127.0.0.1:${port}`;
  const names = [loopback, `localhost:${port}`, `${HOST_ALIAS}:${port}`];
  return (image, arch) => {
    const name = names.find((n) => image.startsWith(`${n}/`));
    if (name === undefined) return lookup(image, arch);
    return lookupImageCommand(`${loopback}${image.slice(name.length)}`, arch, { credentials: { [loopback]: login } });
  };
}
