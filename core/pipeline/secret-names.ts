// Which names a secret may have, where the name ends up somewhere with rules of its own.

/** A variable name the shell can expand (`$NAME`): the step script masks only these. */
export const SHELL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A secret's name as one segment of an SSM parameter path (`/slipway/OWNER/NAME/SECRET`). */
export const SECRET_NAME = /^[A-Za-z0-9_.-]+$/;
