// SQS through fauxqs, in-process: it speaks the JSON protocol of @aws-sdk/client-sqs.
import { startFauxqs, type FauxqsServer } from 'fauxqs';

export interface LocalSqs {
  endpoint: string;
  port: number;
  /** The emulator itself, for inspecting queues in tests. */
  server: FauxqsServer;
  stop(): Promise<void>;
}

export interface SqsOptions {
  port?: number;
  region?: string;
}

export async function startSqs(options: SqsOptions = {}): Promise<LocalSqs> {
  const server = await startFauxqs({ port: options.port ?? 0, logger: false, defaultRegion: options.region ?? 'us-east-1' });
  return {
    endpoint: `http://127.0.0.1:${server.port}`,
    port: server.port,
    server,
    stop: () => server.stop(),
  };
}
