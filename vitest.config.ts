import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // A safety net against hangs, not a speed goal: on a loaded 2-core machine a CDK synth
    // measured 43 s where it takes 3 s alone, so no test may depend on finishing sooner.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    // Local stand-ins (DynamoDB Local, network namespaces) are heavy: two cores, so
    // keep the number of test files running at once small.
    maxWorkers: 2,
    // The AWS SDK's Node 22 notice (nine lines per worker) buries the report; bin/slipway.js
    // silences it the same way for the CLI.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
