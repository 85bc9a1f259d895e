// Which names a secret may have, where the name ends up somewhere with rules of its own.

/** A variable name the shell can expand (`$NAME`): the step script masks only these. */
export const SHELL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * A secret's name as one segment of an SSM parameter path (`/slipway/OWNER/NAME/SECRET`):
 * never `.` or `..`, which a path would read as "here" or "the parent".
 */
export const SECRET_NAME = /^(?!\.\.?$)[A-Za-z0-9_.-]+$/;

/**
 * An absolute container path with `//`, `.` and `..` resolved (`/a//b/../c/.` → `/a/c`),
 * so that a reserved directory cannot be reached by spelling it another way. `..` above
 * the root stays at the root, as the kernel resolves it.
 */
export function normalizePath(path: string): string {
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return `/${parts.join('/')}`;
}
