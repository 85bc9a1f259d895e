// What a CLI command may touch: its output streams and the working directory.
// Tests pass their own to capture output.

export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** All of standard input (commands that take a secret read it there, never from an argument). */
  stdin?: () => Promise<string>;
}

/** The CLI's exit codes: scripts rely on them. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

export const processIO: CliIO = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
  cwd: process.cwd(),
  env: process.env,
  stdin: async () => {
    if (process.stdin.isTTY) process.stderr.write('(reading standard input: paste it, then press Enter and Ctrl-D)\n');
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
};
