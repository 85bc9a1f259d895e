// Amazon ECR's GetAuthorizationToken and DescribeImages on loopback, as the real
// @aws-sdk/client-ecr speaks them (AWS JSON 1.1: POST /, `X-Amz-Target:
// AmazonEC2ContainerRegistry_V20150921.<Action>`). Each call is recorded with the region its
// signature names, so tests can assert that a registry's token was asked for in that registry's
// region. DescribeImages is as strict as ECR where Slipway relies on it
// (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DescribeImages.html): an
// unknown repository is RepositoryNotFoundException; at most 100 imageIds; one id that matches
// no image fails the whole call with ImageNotFoundException.

import { createServer, type Server } from 'node:http';

const TARGET_PREFIX = 'AmazonEC2ContainerRegistry_V20150921.';

export interface EcrStandInOptions {
  /** The password inside the token (`AWS:<password>`); default `ecr-password`. */
  password?: string;
  /** Epoch milliseconds the token expires at; default 12 hours from each call. */
  expiresAt?: () => number;
}

/** An image DescribeImages knows: imageSizeInBytes as ECR reports it (a manifest list's largest manifest). */
export interface EcrImage {
  digest: string;
  tags: string[];
  sizeInBytes: number;
  /** When it was pushed, epoch ms (ImageDetail.imagePushedAt); default November 2023. */
  pushedAt?: number;
}

export interface RecordedEcrCall {
  action: string;
  /** From the SigV4 credential scope of the request. */
  region: string;
}

export interface EcrStandIn {
  url: string;
  calls: RecordedEcrCall[];
  /** DescribeImages: each repository's images, by repository name. */
  repositories: Map<string, EcrImage[]>;
  /** The next `count` calls fail with this AWS error (`AccessDeniedException`, …). */
  failNext(count: number, type: string, message: string): void;
  /** Calls wait until `release` is called: lets tests overlap concurrent callers. */
  hold(): { release: () => void };
  stop(): Promise<void>;
}

export async function startEcrStandIn(options: EcrStandInOptions = {}): Promise<EcrStandIn> {
  const calls: RecordedEcrCall[] = [];
  const repositories = new Map<string, EcrImage[]>();
  const failures: Array<{ remaining: number; type: string; message: string }> = [];
  let gate: Promise<void> | undefined;

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const region = /Credential=[^/]+\/\d{8}\/([^/]+)\/ecr\//.exec(String(req.headers.authorization ?? ''))?.[1] ?? '';
      const action = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : target;
      calls.push({ action, region });
      if (gate) await gate;
      const reply = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', ...headers });
        res.end(JSON.stringify(body));
      };
      const failure = failures.find((f) => f.remaining > 0);
      if (failure) {
        failure.remaining--;
        return reply(400, { __type: failure.type, message: failure.message }, { 'x-amzn-errortype': failure.type });
      }
      if (req.method === 'POST' && action === 'DescribeImages') {
        const input = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { registryId?: string; repositoryName?: string; imageIds?: { imageTag?: string; imageDigest?: string }[] };
        const registryId = input.registryId ?? '123456789012';
        const name = String(input.repositoryName);
        const images = repositories.get(name);
        const fail = (type: string, message: string) => reply(400, { __type: type, message }, { 'x-amzn-errortype': type });
        if (!images) return fail('RepositoryNotFoundException', `The repository with name '${name}' does not exist in the registry with id '${registryId}'`);
        const ids = input.imageIds ?? [];
        if (ids.length > 100) return fail('InvalidParameterException', "Invalid parameter at 'imageIds' failed to satisfy constraint: 'Member must have length less than or equal to 100'");
        const details = [];
        for (const id of ids) {
          const image = images.find((i) => (id.imageDigest !== undefined ? i.digest === id.imageDigest : i.tags.includes(id.imageTag ?? '')));
          if (!image) {
            return fail('ImageNotFoundException', `The image with imageId {imageDigest:'${id.imageDigest ?? 'null'}', imageTag:'${id.imageTag ?? 'null'}'} does not exist within the repository with name '${name}' in the registry with id '${registryId}'`);
          }
          details.push({ registryId, repositoryName: name, imageDigest: image.digest, imageTags: image.tags, imageSizeInBytes: image.sizeInBytes, imagePushedAt: (image.pushedAt ?? 1_700_000_000_000) / 1000 });
        }
        return reply(200, { imageDetails: details });
      }
      if (req.method !== 'POST' || action !== 'GetAuthorizationToken') {
        return reply(400, { __type: 'UnknownOperationException', message: `not served: ${target}` });
      }
      const token = Buffer.from(`AWS:${options.password ?? 'ecr-password'}`).toString('base64');
      const expiresAt = (options.expiresAt ?? (() => Date.now() + 12 * 3_600_000))();
      reply(200, { authorizationData: [{ authorizationToken: token, expiresAt: expiresAt / 1000, proxyEndpoint: 'https://123456789012.dkr.ecr.eu-west-1.amazonaws.com' }] });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('ECR stand-in: no TCP address');

  return {
    url: `http://127.0.0.1:${address.port}`,
    calls,
    repositories,
    failNext(count, type, message) {
      failures.push({ remaining: count, type, message });
    },
    hold() {
      let release!: () => void;
      gate = new Promise<void>((resolve) => (release = resolve));
      return {
        release: () => {
          gate = undefined;
          release();
        },
      };
    },
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
