// Parses a registry's `WWW-Authenticate` header (RFC 7235 challenge): the Docker token
// flow's `Bearer realm=…,service=…,scope=…` or a plain `Basic realm=…`.

export type Challenge =
  | { scheme: 'bearer'; realm: string; service?: string; scope?: string }
  | { scheme: 'basic' }
  | { scheme: 'other'; name: string };

/** Null when the header is absent or names no scheme. Only the first challenge is read. */
export function parseChallenge(header: string | null): Challenge | null {
  if (header === null) return null;
  const match = /^\s*([A-Za-z][\w-]*)\s*(.*)$/s.exec(header);
  if (!match) return null;
  const name = match[1]!;
  const params: Record<string, string> = {};
  // key=value or key="quoted, \"escaped\" value", separated by commas.
  for (const m of match[2]!.matchAll(/([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
    params[m[1]!.toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!;
  }
  switch (name.toLowerCase()) {
    case 'bearer':
      if (!params.realm) return { scheme: 'other', name };
      return {
        scheme: 'bearer',
        realm: params.realm,
        ...(params.service !== undefined ? { service: params.service } : {}),
        ...(params.scope !== undefined ? { scope: params.scope } : {}),
      };
    case 'basic':
      return { scheme: 'basic' };
    default:
      return { scheme: 'other', name };
  }
}
