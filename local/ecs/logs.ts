// Container output kept like awslogs streams: one stream per container, named
// `<awslogs-stream-prefix>/<container>/<task id>`, each line with its timestamp. Stored as
// JSON lines under the logs directory, so other processes (the dashboard) can read them.
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface LogEvent {
  /** Milliseconds since the epoch, like CloudWatch Logs. */
  timestamp: number;
  message: string;
  /** Which pipe the line came from. */
  source: 'stdout' | 'stderr';
}

export interface LogLine extends LogEvent {
  group: string;
  stream: string;
  taskArn: string;
  container: string;
}

export type LogListener = (line: LogLine) => void;

export class LogStore {
  private readonly listeners = new Set<LogListener>();

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  /** File holding one stream; group and stream names may contain '/'. */
  file(group: string, stream: string): string {
    return join(this.dir, encodeURIComponent(group), ...stream.split('/').map(encodeURIComponent)) + '.jsonl';
  }

  /** A writer for one container: splits chunks into lines, keeping partial lines until complete. */
  writer(meta: { group: string; stream: string; taskArn: string; container: string }): {
    write(source: 'stdout' | 'stderr', chunk: Buffer | string): void;
    line(source: 'stdout' | 'stderr', message: string): void;
    end(): void;
  } {
    const file = this.file(meta.group, meta.stream);
    mkdirSync(dirname(file), { recursive: true });
    const partial: Record<'stdout' | 'stderr', string> = { stdout: '', stderr: '' };
    const emit = (source: 'stdout' | 'stderr', message: string): void => {
      const event: LogEvent = { timestamp: Date.now(), message, source };
      appendFileSync(file, `${JSON.stringify(event)}\n`);
      for (const listener of this.listeners) listener({ ...event, ...meta });
    };
    return {
      write(source, chunk) {
        const lines = (partial[source] + chunk.toString()).split('\n');
        partial[source] = lines.pop() ?? '';
        for (const line of lines) emit(source, line);
      },
      line: emit,
      end() {
        for (const source of ['stdout', 'stderr'] as const) {
          if (partial[source] !== '') emit(source, partial[source]);
          partial[source] = '';
        }
      },
    };
  }

  read(group: string, stream: string): LogEvent[] {
    const file = this.file(group, stream);
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as LogEvent);
  }

  onLine(listener: LogListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
