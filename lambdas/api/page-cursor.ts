// Page cursors of the API's own queries: DynamoDB's LastEvaluatedKey, opaque to clients.

export class InvalidPageCursor extends Error {
  constructor(cursor: string) {
    super(`the cursor ${JSON.stringify(cursor.slice(0, 40))} is not one this API returned; start again without it`);
    this.name = 'InvalidPageCursor';
  }
}

export function encodePageCursor(key: Record<string, unknown> | undefined): string | undefined {
  return key ? Buffer.from(JSON.stringify(key)).toString('base64url') : undefined;
}

/** The key a cursor holds: an object of string attributes, as the table's keys are. */
export function decodePageCursor(cursor: string | undefined): Record<string, unknown> | undefined {
  if (!cursor) return undefined;
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch (err) {
    if (err instanceof SyntaxError) throw new InvalidPageCursor(cursor);
    throw err;
  }
  if (typeof key !== 'object' || key === null || Array.isArray(key) || !Object.values(key).every((v) => typeof v === 'string')) throw new InvalidPageCursor(cursor);
  return key as Record<string, unknown>;
}
