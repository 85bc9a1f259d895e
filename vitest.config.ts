import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Local stand-ins (DynamoDB Local, network namespaces) are heavy: two cores, so
    // keep the number of test files running at once small.
    maxWorkers: 2,
  },
});
