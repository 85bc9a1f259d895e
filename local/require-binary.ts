// A missing host program is a setup problem: say which one and how to get it.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Absolute path of `name` on PATH (or the extra directories), or undefined. */
export function findBinary(name: string, extraDirs: string[] = [], path = process.env.PATH ?? ''): string | undefined {
  if (name.includes('/')) return isExecutable(name) ? name : undefined;
  for (const dir of [...path.split(delimiter), ...extraDirs]) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

export function requireBinary(name: string, why: string, extraDirs: string[] = []): string {
  const found = findBinary(name, extraDirs);
  if (!found) throw new Error(`local: '${name}' not found on this machine: ${why}; run \`npm run setup\``);
  return found;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    // Not there or not executable: both mean "not this one".
    return false;
  }
}
