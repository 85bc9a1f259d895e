// What a CLI command may touch: its output streams and the working directory.
// Tests pass their own to capture output.

export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  cwd: string;
  env: NodeJS.ProcessEnv;
}

/** The CLI's exit codes: scripts rely on them. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

export const processIO: CliIO = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
  cwd: process.cwd(),
  env: process.env,
};
