// What a plugin step learns about the build when no launcher can start it (its image's
// command line is unknown, script.ts pluginScript): its image's entrypoint runs as is, so it
// cannot source the agent's env file. Per-run values can only reach it through
// RunTask overrides, and those are limited to 8 KiB for the whole task, so it gets the
// variables plugins read, non-empty ones only, and nothing that the task definition can
// carry (stage, workspace and system values are the same on every run and go there).

/** Per-run variables a plugin receives, by name or by prefix (`DRONE_SEMVER*`). */
const PER_RUN = new Set([
  'DRONE_REPO', 'DRONE_REPO_OWNER', 'DRONE_REPO_NAMESPACE', 'DRONE_REPO_NAME', 'DRONE_REPO_LINK', 'DRONE_REPO_BRANCH',
  'DRONE_REPO_PRIVATE', 'DRONE_REPO_VISIBILITY', 'DRONE_REMOTE_URL', 'DRONE_GIT_HTTP_URL', 'DRONE_GIT_SSH_URL',
  'DRONE_BUILD_NUMBER', 'DRONE_BUILD_EVENT', 'DRONE_BUILD_ACTION', 'DRONE_BUILD_LINK', 'DRONE_BUILD_CREATED',
  'DRONE_BUILD_TRIGGER', 'DRONE_BUILD_PARENT',
  'DRONE_COMMIT', 'DRONE_COMMIT_SHA', 'DRONE_COMMIT_BEFORE', 'DRONE_COMMIT_AFTER', 'DRONE_COMMIT_REF', 'DRONE_COMMIT_BRANCH',
  'DRONE_COMMIT_LINK', 'DRONE_COMMIT_MESSAGE', 'DRONE_COMMIT_AUTHOR', 'DRONE_COMMIT_AUTHOR_NAME', 'DRONE_COMMIT_AUTHOR_EMAIL',
  'DRONE_COMMIT_AUTHOR_AVATAR', 'DRONE_BRANCH', 'DRONE_SOURCE_BRANCH', 'DRONE_TARGET_BRANCH', 'DRONE_TAG',
  'DRONE_PULL_REQUEST', 'DRONE_PULL_REQUEST_TITLE', 'DRONE_DEPLOY_TO', 'DRONE_CRON',
]);
const PER_RUN_PREFIXES = ['DRONE_SEMVER', 'DRONE_CALVER'];

/** Same on every run of the pipeline: these go into the task definition. */
const STRUCTURAL_PREFIXES = ['DRONE_STAGE_', 'DRONE_WORKSPACE', 'DRONE_SYSTEM_'];
const STRUCTURAL = new Set(['CI', 'DRONE', 'DRONE_CARD_PATH', 'GIT_TERMINAL_PROMPT']);
/** Run-time values no override can know (the agent recomputes them for script steps). */
const DYNAMIC = new Set(['DRONE_STAGE_STARTED', 'DRONE_STAGE_FINISHED', 'DRONE_STAGE_STATUS', 'DRONE_STAGE_MACHINE']);

export function pluginRunEnvironment(env: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === '') continue;
    if (PER_RUN.has(name) || PER_RUN_PREFIXES.some((p) => name.startsWith(p))) out[name] = value;
  }
  return out;
}

export function pluginStructuralEnvironment(env: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (DYNAMIC.has(name)) continue;
    if (STRUCTURAL.has(name) || STRUCTURAL_PREFIXES.some((p) => name.startsWith(p))) out[name] = value;
  }
  return out;
}
