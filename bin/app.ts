// The CDK app: one Slipway stack, configured through CDK context (cdk.json or `-c key=value`;
// see the README, "Deploy to AWS"). Environment-agnostic: `cdk synth` needs no credentials, and
// `cdk deploy` targets the account and region of the current AWS profile.
import { App } from 'aws-cdk-lib';
import { join } from 'node:path';
import { ConfigError, appSettingsFromContext, settingsFromContext } from '../lib/config.js';
import { PROJECT_ROOT, SlipwayStack } from '../lib/slipway.js';
import { WEB_DIST, buildDashboard } from '../web/build.js';

const app = new App();
try {
  const get = (key: string): unknown => app.node.tryGetContext(key);
  const settings = settingsFromContext(get);
  const appSettings = appSettingsFromContext(get);
  const dashboardDir = join(PROJECT_ROOT, appSettings.dashboardDir);
  // The dashboard is static files built from web/: build them here so a fresh clone deploys the real one.
  if (dashboardDir === WEB_DIST) buildDashboard();
  new SlipwayStack(app, appSettings.stackName, {
    slipway: {
      ...settings,
      dashboardDir,
      dashboardWhenMissing: appSettings.dashboardWhenMissing,
      ...(appSettings.agentImageUri ? { agentImage: { uri: appSettings.agentImageUri } } : {}),
    },
  });
  app.synth();
} catch (error) {
  // Configuration and missing-file errors are the user's to fix: one line, no stack trace.
  if (error instanceof ConfigError || (error instanceof Error && error.message.startsWith('SLIPWAY-'))) {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
  throw error;
}
