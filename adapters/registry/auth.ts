// The registry's authorization, earned once per lookup on its first 401: Basic credentials,
// or a Bearer token from the token service the challenge names (Docker's token
// authentication). Credentials are read only when asked for and never sent in clear to
// another host. Requests through here turn a refusal into an error a user can act on.

import { parseChallenge } from '../../core/images/challenge.js';
import type { RegistryCredentials, RegistryCredentialsByRegistry } from '../../core/images/types.js';
import { send } from './http.js';
import { LookupFailure, errorText, type Fetched, type Method, type Session } from './session.js';

/** A GET that earns its authorization on the first 401 and turns every non-2xx into a LookupFailure. */
export async function get(session: Session, url: string, accept: string, what: string): Promise<Fetched> {
  const res = await request(session, 'GET', url, accept);
  if (res.status >= 200 && res.status < 300) return res;
  throw refusal(session, res, what);
}

/** A request that earns its authorization on the session's first 401; the answer as it came. */
export async function request(session: Session, method: Method, url: string, accept: string): Promise<Fetched> {
  let res = await send(session, url, accept, { method });
  if (res.status === 401 && !session.authenticated) {
    await authenticate(session, res.headers.get('www-authenticate'));
    res = await send(session, url, accept, { method });
  }
  return res;
}

export function refusal(session: Session, res: Fetched, what: string): LookupFailure {
  const { ref } = session;
  const prefix = `image "${ref.original}": `;
  const host = ref.host;
  const codes = registryErrors(res.body);
  if (res.status === 404) return new LookupFailure(`${prefix}not found in registry ${host} (${codes || `${what} unknown`}); check the name and tag`, false);
  if (res.status === 401 && !session.credentials) {
    return new LookupFailure(`${prefix}registry ${host} requires credentials (or the repository does not exist); add credentials for ${ref.domain}`, false);
  }
  if (res.status === 401 || res.status === 403) {
    const given = session.credentials ? 'the credentials given for it' : 'anonymous access';
    return new LookupFailure(`${prefix}registry ${host} refused ${given} (${res.status}${codes ? ` ${codes}` : ''}); check that they may pull ${ref.repository}`, false);
  }
  return new LookupFailure(`${prefix}registry ${host} answered ${res.status} for ${what}${codes ? ` (${codes})` : ''}`, false);
}

/** `CODE: message` of the registry's `{"errors":[…]}` body, or '' when it has none. */
function registryErrors(body: Buffer): string {
  try {
    const doc = JSON.parse(body.toString('utf8')) as { errors?: Array<{ code?: unknown; message?: unknown }> };
    if (!Array.isArray(doc.errors)) return '';
    return doc.errors
      .map((e) => [e.code, e.message].filter((x) => typeof x === 'string').join(': '))
      .filter(Boolean)
      .join('; ')
      .slice(0, 300);
  } catch (err) {
    if (err instanceof SyntaxError) return ''; // Not the registry's JSON error shape (an HTML page from a proxy).
    throw err;
  }
}

/** The credentials for this image's registry, read from the source only now that they are needed. */
async function loadCredentials(session: Session): Promise<RegistryCredentials | undefined> {
  const { ref, credentialSource: source } = session;
  if (source === undefined) return undefined;
  let all: RegistryCredentialsByRegistry;
  try {
    all = typeof source === 'function' ? await source(ref.domain) : source;
  } catch (err) {
    throw new LookupFailure(`image "${ref.original}": could not read the registry credentials for ${ref.domain} (${errorText(err)}); try again later`, true);
  }
  return all[ref.domain] ?? all[ref.host];
}

async function authenticate(session: Session, header: string | null): Promise<void> {
  session.authenticated = true;
  const loaded = await loadCredentials(session);
  if (loaded) session.credentials = loaded;
  const { ref, credentials } = session;
  const prefix = `image "${ref.original}": registry ${ref.host}`;
  const challenge = parseChallenge(header);
  const basic = credentials ? `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}` : undefined;

  if (challenge?.scheme === 'basic') {
    if (!basic) throw new LookupFailure(`${prefix} requires credentials; add credentials for ${ref.domain}`, false);
    if (!mayCarryCredentials(new URL(session.base))) {
      throw new LookupFailure(`${prefix} asks for Basic credentials over plain http; they are sent only over https (or http to this machine)`, false);
    }
    session.authorization = basic;
    return;
  }
  if (challenge?.scheme !== 'bearer') {
    throw new LookupFailure(`${prefix} answered 401 with ${challenge ? `an unsupported "${challenge.name}"` : 'no usable'} challenge; expected Bearer or Basic`, false);
  }
  let tokenUrl: URL;
  try {
    tokenUrl = new URL(challenge.realm);
  } catch (err) {
    throw new LookupFailure(`${prefix} named an invalid token realm "${challenge.realm.slice(0, 200)}" (${(err as Error).message})`, false);
  }
  if (tokenUrl.protocol !== 'https:' && tokenUrl.protocol !== 'http:') {
    throw new LookupFailure(`${prefix} named a token realm that is not http(s): ${tokenUrl.protocol}`, false);
  }
  if (challenge.service !== undefined) tokenUrl.searchParams.set('service', challenge.service);
  tokenUrl.searchParams.set('scope', challenge.scope ?? `repository:${ref.repository}:pull`);

  // A realm is whatever the registry names: credentials must not cross the network in clear.
  const withheld = basic !== undefined && !mayCarryCredentials(tokenUrl);
  const res = await send(session, tokenUrl.toString(), 'application/json', { authorization: withheld ? null : (basic ?? null) });
  if (res.status === 401 || res.status === 403) {
    throw new LookupFailure(
      withheld
        ? `${prefix}: its token service ${tokenUrl.origin} is plain http, so the credentials for ${ref.domain} were not sent and it refused an anonymous token (${res.status}); the token service must use https`
        : basic
          ? `${prefix}: its token service refused the credentials given for ${ref.domain} (${res.status})`
          : `${prefix} requires credentials to pull ${ref.repository}; add credentials for ${ref.domain}`,
      false,
    );
  }
  if (res.status < 200 || res.status >= 300) throw new LookupFailure(`${prefix}: its token service answered ${res.status}`, false);
  let token: unknown;
  try {
    const doc = JSON.parse(res.body.toString('utf8')) as { token?: unknown; access_token?: unknown };
    token = doc.token ?? doc.access_token;
  } catch (err) {
    throw new LookupFailure(`${prefix}: its token service answered with malformed JSON (${(err as Error).message})`, false);
  }
  if (typeof token !== 'string' || token.length === 0) throw new LookupFailure(`${prefix}: its token service answered without a token`, false);
  session.authorization = `Bearer ${token}`;
}

/**
 * Credentials go only over https, or over http to this machine (a loopback registry, as
 * Docker allows): a token realm on another host over plain http would expose them.
 */
function mayCarryCredentials(url: URL): boolean {
  if (url.protocol === 'https:') return true;
  if (url.protocol !== 'http:') return false;
  const host = url.hostname;
  return host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
