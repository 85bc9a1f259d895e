// The layer rules of docs/architecture (README "Code layout"), checked by `npm test`.
// Each rule says why it exists; `npx depcruise --config .dependency-cruiser.cjs <dirs>` shows
// what breaks it.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'core-is-pure',
      comment:
        'core/ holds the pure logic (pipeline engine, status machine, scaling decision, ports). It imports nothing of ours outside core/, so it is tested without stand-ins and reused by every layer.',
      severity: 'error',
      from: { path: '^core/' },
      to: { path: '^(adapters|lambdas|lib|local|cli|task-runner|web|bin|bench|test)/' },
    },
    {
      name: 'core-no-aws-sdk',
      comment: 'core/ speaks to AWS only through ports; the SDK clients live in adapters/ and the Lambdas.',
      severity: 'error',
      from: { path: '^core/' },
      to: { path: 'node_modules/@aws-sdk/' },
    },
    {
      name: 'core-no-io',
      comment: 'core/ does no I/O: files, sockets, processes and HTTP belong to the edges.',
      severity: 'error',
      from: { path: '^core/' },
      to: { dependencyTypes: ['core'], path: '^(fs|fs/promises|net|http|https|http2|child_process|dgram|tls|worker_threads)$' },
    },
    {
      name: 'no-lambda-imports-another',
      comment:
        'Each Lambda is bundled alone; what two share lives in lambdas/shared/ (or below), never in another Lambda folder.',
      severity: 'error',
      from: { path: '^lambdas/([^/]+)/' },
      to: { path: '^lambdas/', pathNot: ['^lambdas/$1/', '^lambdas/shared/'] },
    },
    {
      name: 'shared-imports-no-lambda',
      comment: 'lambdas/shared/ is below the Lambda folders.',
      severity: 'error',
      from: { path: '^lambdas/shared/' },
      to: { path: '^lambdas/', pathNot: '^lambdas/shared/' },
    },
    {
      name: 'lib-imports-no-runtime-code',
      comment:
        'The CDK constructs point at bundles; importing runtime code would pull it (and its SDK clients) into `cdk synth`. Pure constants from core/ are fine.',
      severity: 'error',
      from: { path: '^lib/' },
      // Except the table's key schema: plain data (no SDK, no I/O) that the CDK table and the
      // store both read, so the deployed table and the code's keys agree by construction.
      to: { path: '^(adapters|lambdas|local|cli|task-runner|web)/', pathNot: '^adapters/dynamodb/keys\\.ts$' },
    },
    {
      name: 'table-keys-stay-plain-data',
      comment: 'lib/ reads the table key schema (adapters/dynamodb/keys.ts), so it must pull in no package at all.',
      severity: 'error',
      from: { path: '^adapters/dynamodb/keys\\.ts$' },
      to: { dependencyTypesNot: ['type-only'], path: 'node_modules' },
    },
    {
      name: 'only-the-cli-and-tests-import-local',
      comment:
        'local/ is the stand-ins and the local server: the deployed code never carries it. The CLI, tests and benches start it.',
      severity: 'error',
      from: { pathNot: '^(local|cli|bin|test|bench)/' },
      to: { path: '^local/' },
    },
    {
      name: 'adapters-below-the-lambdas',
      comment: 'adapters/ implement core ports with SDKs and HTTP; they know nothing of who uses them.',
      severity: 'error',
      from: { path: '^adapters/' },
      to: { path: '^(lambdas|lib|local|cli|task-runner|web|bin)/' },
    },
    {
      name: 'adapters-stand-apart',
      comment: 'Each adapter folder implements ports with one technology (DynamoDB, SQS, CloudWatch Logs, a registry); one does not lean on another.',
      severity: 'error',
      from: { path: '^adapters/([^/]+)/' },
      to: { path: '^adapters/', pathNot: '^adapters/$1/' },
    },
    {
      name: 'lambda-logic-through-ports',
      comment:
        'The Lambdas work on core ports (BuildStore, BuildCreator, StageStore, RepositoryStore, DeliveryStore, RecentRecordsReader, JobQueue, LogReader), so their logic runs as well on the in-memory stores of the tests; only their wiring (handler.ts, wiring.ts, the planner\'s deps.ts) builds adapters. lambdas/shared/ outside execution/ holds the shared wiring (clients, table creation).',
      severity: 'error',
      from: { path: '^lambdas/(autoscaler|task-events|webhook|api|planner|shared/execution)/', pathNot: ['/(handler|wiring)\\.ts$', '^lambdas/planner/deps\\.ts$'] },
      to: { path: '^adapters/' },
    },
    {
      name: 'logs-and-jobs-through-ports',
      comment:
        'Step logs and the jobs queue are read and written through their ports (core/logs/log-reader.ts, core/scaling/job-queue.ts); only a Lambda\'s wiring (handler.ts, wiring.ts, deps.ts) names the CloudWatch Logs or SQS adapter.',
      severity: 'error',
      from: { path: '^lambdas/', pathNot: '/(handler|wiring|deps)\\.ts$' },
      to: { path: '^adapters/(cloudwatch-logs|sqs)/' },
    },
    {
      name: 'agent-stands-alone',
      comment: 'The agent runs inside the task: it shares core/ with the control plane and nothing else.',
      severity: 'error',
      from: { path: '^task-runner/' },
      to: { path: '^(adapters|lambdas|lib|local|cli|web|bin)/' },
    },
    {
      name: 'dashboard-shares-types-only',
      comment: 'The dashboard is a browser bundle: it may use core/ (types, formatting) and nothing server-side.',
      severity: 'error',
      from: { path: '^web/' },
      to: { path: '^(adapters|lambdas|lib|local|cli|task-runner|bin)/' },
    },
    {
      name: 'no-unlisted-dependencies',
      comment: 'Every package imported by shipped code is in package.json (a transitive one can vanish on any install).',
      severity: 'error',
      from: { path: '^(core|adapters|lambdas|lib|local|cli|task-runner|web|bin)/' },
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'no-dev-dependencies-at-run-time',
      comment: 'Lambdas, the agent and the CDK app run with production dependencies only.',
      severity: 'error',
      // Except the build steps themselves: the CDK bundling code and the agent's build script
      // run esbuild at synth/build time, from a development install.
      from: { path: '^(core|adapters|lambdas|lib|task-runner)/', pathNot: '^(lib/bundling|task-runner/build)\\.ts$' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import that does not resolve is a broken build waiting to happen.',
      severity: 'error',
      // A fixture of a deliberately broken handler is exempt; `aws-lambda` is a types-only
      // package (@types/aws-lambda) imported with `import type`.
      from: { pathNot: '^test/cdk/fixtures/broken/' },
      to: { couldNotResolve: true, pathNot: '^aws-lambda$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(cdk\\.out|web/dist|dist)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.json'],
    },
  },
};
