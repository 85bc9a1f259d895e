// Tests that need a system tool (busybox, Chromium, network namespaces) skip when it is
// missing on a developer's machine, but under CI=true a missing tool is a failure: the
// set-up script (scripts/setup.sh, run by `npm test`'s pretest) installs them, so a skip
// there would silently hide a whole area of the suite.

/** True when the tests should be skipped; throws under CI=true instead of skipping. */
export function skipWithout(tool: string, whyMissing: string | undefined): boolean {
  if (whyMissing === undefined) return false;
  if (isCi(process.env)) {
    throw new Error(`${tool} is required under CI=true but is unavailable: ${whyMissing}; scripts/setup.sh should have installed it`);
  }
  console.warn(`tests that need ${tool} are skipped: ${whyMissing}`);
  return true;
}

/** CI providers set CI=true (GitHub Actions, GitLab CI, Drone); `.ci/run` sets it too. */
export function isCi(env: NodeJS.ProcessEnv): boolean {
  const value = env.CI?.toLowerCase();
  return value === 'true' || value === '1';
}
