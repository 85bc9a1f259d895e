// The image command store (core/images/command-store.ts) on the build table, so a cold
// planner Lambda keeps what earlier ones learned from the registries. One item per image
// digest and architecture (keys.ts, access pattern 10). A digest's content is immutable,
// so a plain PutItem is idempotent and concurrent planners writing the same item agree.

import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { ImageCommandKey, ImageCommandStore, StoredImageCommand } from '../../core/images/command-store.js';
import { IMAGE_COMMAND_TTL_SECONDS, TTL_ATTRIBUTE, imageCommandPk, imageCommandSk } from './keys.js';

const ITEM_TYPE = 'imageCommand';

export class DynamoImageCommandStore implements ImageCommandStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    /** Epoch milliseconds; injected by tests. */
    private readonly now: () => number = Date.now,
  ) {}

  async get(key: ImageCommandKey): Promise<StoredImageCommand | undefined> {
    const res = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: itemKey(key) }));
    if (!res.Item) return undefined;
    // TTL deletion lags expiry by up to days; an expired item is treated as gone.
    const expiresAt = res.Item[TTL_ATTRIBUTE];
    if (typeof expiresAt === 'number' && expiresAt * 1000 <= this.now()) return undefined;
    return decode(res.Item, key);
  }

  async put(key: ImageCommandKey, value: StoredImageCommand): Promise<void> {
    const now = this.now();
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...itemKey(key),
          type: ITEM_TYPE,
          entrypoint: value.entrypoint,
          cmd: value.cmd,
          manifestDigest: value.digest,
          storedAt: now,
          [TTL_ATTRIBUTE]: Math.floor(now / 1000) + IMAGE_COMMAND_TTL_SECONDS,
        },
      }),
    );
  }
}

function itemKey(key: ImageCommandKey): { PK: string; SK: string } {
  return { PK: imageCommandPk(key.repository, key.digest), SK: imageCommandSk(key.arch) };
}

/** A malformed item is an error, not a miss: the lookup logs it and asks the registry. */
function decode(item: Record<string, unknown>, key: ImageCommandKey): StoredImageCommand {
  const where = `image command store: item ${imageCommandPk(key.repository, key.digest)} / ${imageCommandSk(key.arch)}`;
  const list = (field: string): string[] | null => {
    const value = item[field];
    if (value === null || value === undefined) return null;
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
    throw new Error(`${where}: \`${field}\` should be a list of strings or null`);
  };
  const digest = item.manifestDigest;
  if (typeof digest !== 'string' || digest === '') throw new Error(`${where}: \`manifestDigest\` should be a digest string`);
  return { entrypoint: list('entrypoint'), cmd: list('cmd'), digest };
}
