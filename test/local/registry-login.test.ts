// The local image registry's login (local/registry-login.ts) and the registry it guards
// (local/image-registry.ts): made once per SLIPWAY_HOME, readable by its owner only; the
// registry refuses anonymous pushes (401) and takes the login's; it listens on loopback only.
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageRegistryBinary, startImageRegistry, type ImageRegistry } from '../../local/image-registry.js';
import { PROJECT_ROOT } from '../../local/images.js';
import { isListening } from '../../local/ports.js';
import { basicAuthorization, htpasswdLine, localRegistryLogin, REGISTRY_LOGIN_FILE, type RegistryLogin } from '../../local/registry-login.js';
import { skipWithout } from '../support/required-tool.js';

const dirs: string[] = [];
const tempHome = () => {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-registry-login-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('the local registry login', () => {
  it('is made once per SLIPWAY_HOME, in a file only its owner may read (0600), and another home gets another', () => {
    const home = tempHome();
    const first = localRegistryLogin(home);
    expect(statSync(join(home, REGISTRY_LOGIN_FILE)).mode & 0o777).toBe(0o600);
    expect(first.password.length).toBeGreaterThanOrEqual(32);
    expect(localRegistryLogin(home)).toEqual(first);
    expect(localRegistryLogin(tempHome()).password).not.toBe(first.password);
  });

  it('two starters at once agree on one login, and neither reads a partly written file', async () => {
    // Separate processes (the login is made synchronously: only another process can race
    // it), released together once both are loaded, over many fresh homes so that they collide.
    const homes = Array.from({ length: 200 }, () => tempHome());
    const go = join(tempHome(), 'go');
    const script = [
      `import { existsSync } from 'node:fs';`,
      `import { localRegistryLogin } from ${JSON.stringify(pathToFileURL(join(PROJECT_ROOT, 'local', 'registry-login.ts')).href)};`,
      'const [go, ...homes] = process.argv.slice(1);',
      "process.stdout.write('ready\\n');",
      'while (!existsSync(go)) {}',
      'const out = [];',
      'for (const home of homes) {',
      '  try { out.push(localRegistryLogin(home).password); } catch (error) { out.push(`error: ${error.message}`); }',
      '}',
      'process.stdout.write(JSON.stringify(out));',
    ].join('\n');
    const starters = [0, 1].map(() => spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, go, ...homes], { cwd: PROJECT_ROOT }));
    const outputs = starters.map(
      (child) =>
        new Promise<string>((resolve, reject) => {
          let text = '';
          child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
          child.once('error', reject);
          child.once('close', (code) => (code === 0 ? resolve(text) : reject(new Error(`starter exited ${code}`))));
        }),
    );
    const ready = (child: (typeof starters)[number]) => new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    await Promise.all(starters.map(ready));
    writeFileSync(go, '');
    const [a, b] = (await Promise.all(outputs)).map((text) => JSON.parse(text.replace(/^ready\n/, '')) as string[]);
    expect(a!.filter((p) => p.startsWith('error'))).toEqual([]);
    expect(a).toHaveLength(homes.length);
    expect(b).toEqual(a);
    // Nothing left behind but the login itself.
    for (const home of homes) expect(readdirSync(home)).toEqual([REGISTRY_LOGIN_FILE]);
  });

  it('narrows a kept file that others could read back to 0600, and names a malformed one', () => {
    const home = tempHome();
    const made = localRegistryLogin(home);
    chmodSync(join(home, REGISTRY_LOGIN_FILE), 0o644);
    expect(localRegistryLogin(home)).toEqual(made);
    expect(statSync(join(home, REGISTRY_LOGIN_FILE)).mode & 0o777).toBe(0o600);
    writeFileSync(join(home, REGISTRY_LOGIN_FILE), '{"username":"slipway","password":"short"}');
    expect(() => localRegistryLogin(home)).toThrow(`${join(home, REGISTRY_LOGIN_FILE)} should be {"username": "…", "password": "…"}`);
  });

  it('becomes an htpasswd line with a bcrypt hash of the password (the only hash docker-registry takes)', () => {
    const login = { username: 'slipway', password: 'x'.repeat(32) };
    const [user, hash] = htpasswdLine(login).split(':');
    expect(user).toBe('slipway');
    // Cost 4, bcrypt's least: the password is random, and the registry checks it on every request.
    expect(hash).toMatch(/^\$2[aby]\$04\$/);
    expect(bcrypt.compareSync(login.password, hash!)).toBe(true);
    expect(bcrypt.compareSync('y'.repeat(32), hash!)).toBe(false);
  });
});

/** A non-loopback IPv4 address of this machine, if it has one. */
const outsideAddress = Object.values(networkInterfaces())
  .flat()
  .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;


describe.skipIf(skipWithout('docker-registry', imageRegistryBinary() ? undefined : 'docker-registry is not installed'))('the local registry with its login', () => {
  let registry: ImageRegistry;
  let login: RegistryLogin;
  beforeAll(async () => {
    const home = tempHome();
    login = localRegistryLogin(home);
    registry = await startImageRegistry({ dir: join(home, 'registry'), htpasswd: htpasswdLine(login) });
  });
  afterAll(async () => {
    await registry?.stop();
  });

  // The first request of every push (OCI distribution spec, "Pushing blobs": POST /v2/<name>/blobs/uploads/).
  const startUpload = (headers: Record<string, string>) => fetch(`${registry.url}/v2/team/app/blobs/uploads/`, { method: 'POST', headers });

  it('refuses an anonymous push with 401 and a Basic challenge, and a wrong password too', async () => {
    const anonymous = await startUpload({});
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Basic realm="slipway-local"/);
    expect((await startUpload({ authorization: basicAuthorization({ ...login, password: 'not-the-password' }) })).status).toBe(401);
    expect((await fetch(`${registry.url}/v2/team/app/tags/list`)).status).toBe(401);
  });

  it('takes a push with the login (202: the upload starts)', async () => {
    const response = await startUpload({ authorization: basicAuthorization(login) });
    expect(response.status).toBe(202);
    expect(response.headers.get('location')).toContain('/v2/team/app/blobs/uploads/');
  });

  it('listens on loopback only', async () => {
    expect(registry.host).toBe(`127.0.0.1:${registry.port}`);
    expect(await isListening(registry.port, '127.0.0.1')).toBe(true);
  });

  it.skipIf(outsideAddress === undefined)("is not reached at this machine's other addresses", async () => {
    expect(await isListening(registry.port, outsideAddress!)).toBe(false);
  });
});

// Two local modes started together both want the registry's usual port (5000) while it is
// free; whichever binds second finds it taken and takes another, as one taken beforehand.
describe.skipIf(skipWithout('docker-registry', imageRegistryBinary() ? undefined : 'docker-registry is not installed'))('the local registry on a port another program holds', () => {
  it('takes another port when the preferred one is taken, and refuses a port the caller chose', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const taken = (holder.address() as AddressInfo).port;
    try {
      const registry = await startImageRegistry({ dir: join(tempHome(), 'registry'), preferredPort: taken });
      try {
        expect(registry.port).not.toBe(taken);
        expect((await fetch(`${registry.url}/v2/`)).status).toBe(200);
      } finally {
        await registry.stop();
      }
      await expect(startImageRegistry({ dir: join(tempHome(), 'registry'), port: taken })).rejects.toThrow(
        new RegExp(`did not listen on 127\\.0\\.0\\.1:${taken} \\(it exited with \\d+: another program holds that port\\)`),
      );
    } finally {
      await new Promise<void>((resolve) => holder.close(() => resolve()));
    }
  });
});
