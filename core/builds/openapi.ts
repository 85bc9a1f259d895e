// The OpenAPI 3.1 document of the builds API (served at /api/openapi.json).
// Schemas mirror core/builds/types.ts and core/builds/api.ts.

import { PHASE_NAMES } from './stage-timeline.js';
import { STAGE_NOTE_LIMITS } from './new-build.js';
import { BUILD_STATUSES, STEP_STATUSES } from './types.js';

const statusEnum = [...BUILD_STATUSES];
const stepStatusEnum = [...STEP_STATUSES];
const repoParams = [
  { name: 'owner', in: 'path', required: true, schema: { type: 'string' } },
  { name: 'name', in: 'path', required: true, schema: { type: 'string' } },
  { name: 'number', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } },
];
const buildParams = [
  { name: 'number', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } },
  { name: 'repo', in: 'query', required: true, schema: { type: 'string' }, description: 'the full name: OWNER/NAME, GitLab GROUP/SUBGROUP/…/NAME' },
];
const json = (ref: string) => ({ content: { 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } } });
const errors = {
  '401': { description: 'missing or invalid token', ...json('Error') },
  '404': { description: 'not found', ...json('Error') },
};

/**
 * The operations on one build. Each has two paths: the repository in the path (OWNER/NAME),
 * or in `?repo=` (`inQuery`: any depth of GitLab groups); they answer the same.
 */
function buildPaths(base: string, params: readonly object[], inQuery: boolean) {
  const summary = (text: string) => (inQuery ? `${text} (the repository in ?repo=, any depth of GitLab groups)` : text);
  const noRepo = inQuery ? 'no repo, ' : '';
  const buildBody = (description: string) => ({ description, content: { 'application/json': { schema: { type: 'object', properties: { build: { $ref: '#/components/schemas/Build' } } } } } });
  return {
    [base]: { get: { summary: summary('A build with its stages and steps'), parameters: params, responses: { '200': { description: 'the build', ...json('BuildDetail') }, ...errors } } },
    [`${base}/logs/{stage}/{step}`]: {
      get: {
        summary: summary("A step's log lines from a cursor or an offset (poll with the returned cursor while `complete` is false; ask again at once while `more` is true)"),
        parameters: [...params, { name: 'stage', in: 'path', required: true, schema: { type: 'integer' } }, { name: 'step', in: 'path', required: true, schema: { type: 'integer' } }, { name: 'offset', in: 'query', schema: { type: 'integer', minimum: 0 } }, { name: 'cursor', in: 'query', schema: { type: 'string' } }],
        responses: { '200': { description: 'log lines', ...json('LogPage') }, '400': { description: `${noRepo}a malformed offset or a cursor not returned for this step`, ...json('Error') }, '503': { description: 'CloudWatch Logs throttled the read; retry after the Retry-After header', ...json('Error') }, ...errors },
      },
    },
    [`${base}/cancel`]: { post: { summary: summary('Cancel a running build'), parameters: params, responses: { '200': buildBody('the build'), '409': { description: 'already finished', ...json('Error') }, ...errors } } },
    [`${base}/restart`]: { post: { summary: summary('Restart a build as a new build'), parameters: params, responses: { '200': buildBody('the new build'), ...errors } } },
  };
}

export const OPENAPI_DOCUMENT = {
  openapi: '3.1.0',
  info: { title: 'Slipway builds API', version: '1' },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'API token (deployed); local mode on loopback needs none' } },
    schemas: {
      Error: { type: 'object', required: ['error'], properties: { error: { type: 'string' } } },
      Repository: {
        type: 'object',
        properties: {
          slug: { type: 'string' }, scm: { type: 'string' }, httpUrl: { type: 'string' }, link: { type: 'string' },
          defaultBranch: { type: 'string' }, configPath: { type: 'string' }, private: { type: 'boolean' },
          counter: { type: 'integer' }, active: { type: 'boolean' },
          visibility: { type: 'string', enum: ['private', 'internal', 'public'] }, activatedAt: { type: 'integer' },
          trusted: { type: 'boolean', description: 'may run on EC2 capacity (privileged, the Docker socket, dind); never for pull requests from forks' },
          trustSetAt: { type: 'integer', description: 'epoch ms trusted was last set' },
          capacity: { type: 'string', enum: ['warm', 'fargate'], description: "its pipelines' capacity when their node: does not say" },
          githubInstallation: {
            type: 'object',
            description: "the GitHub App installation GitHub's API last named for it (read-only: set from GitHub's answer, never from a request or a webhook)",
            properties: { appId: { type: 'string' }, id: { type: 'integer' } },
          },
          pullThroughCache: { type: 'boolean', description: "its images go through the deployment's ECR pull-through cache; absent: true" },
        },
      },
      RepoActivation: {
        type: 'object',
        properties: {
          repo: { $ref: '#/components/schemas/Repository' },
          webhook: {
            type: 'object',
            description: 'paste url and secret into the Git host; the secret is shown only in this answer',
            properties: { host: { type: 'string' }, url: { type: 'string' }, secret: { type: 'string' } },
          },
        },
      },
      Build: {
        type: 'object',
        required: ['id', 'repo', 'number', 'status', 'createdAt'],
        properties: {
          id: { type: 'string' }, repo: { type: 'string' }, number: { type: 'integer' },
          status: { enum: statusEnum }, event: { type: 'string' }, action: { type: 'string' },
          ref: { type: 'string' }, branch: { type: 'string' }, commit: { type: 'string' },
          message: { type: 'string' }, author: { type: 'string' }, link: { type: 'string' },
          error: { type: 'string' }, fork: { type: 'boolean' }, parent: { type: 'integer' },
          sourceBranch: { type: 'string', description: 'pull requests' }, targetBranch: { type: 'string', description: 'pull requests' },
          pullRequestNumber: { type: 'integer' }, pullRequestTitle: { type: 'string' },
          createdAt: { type: 'integer', description: 'epoch ms' }, startedAt: { type: 'integer' }, finishedAt: { type: 'integer' },
          receivedAt: { type: 'integer', description: 'epoch ms the webhook that caused it arrived; absent on builds stored before it was kept' },
          cost: { $ref: '#/components/schemas/BuildCost' },
        },
      },
      BuildCost: {
        type: 'object',
        description: 'what the build cost (USD), computed when it finishes from what its ECS tasks used; absent before that',
        required: ['currency', 'region', 'total', 'lines', 'estimates'],
        properties: {
          currency: { const: 'USD' }, region: { type: 'string' },
          pricesAsOf: { type: 'string', description: 'ISO date of the price table applied' },
          pricesSource: { type: 'string', description: 'defaults, price-list (the daily refresh), override (the stack setting), joined by +' },
          total: { type: 'number' }, fargate: { type: 'number' }, storage: { type: 'number' }, publicIpv4: { type: 'number' },
          controlPlane: { type: 'number', description: 'Lambda, SQS and DynamoDB requests (estimated)' }, logs: { type: 'number', description: 'CloudWatch Logs ingestion' },
          lines: {
            type: 'array',
            items: {
              type: 'object',
              properties: { item: { type: 'string' }, quantity: { type: 'number' }, unit: { type: 'string' }, rate: { type: 'number', description: 'USD per unit' }, usd: { type: 'number' }, estimated: { type: 'boolean' } },
            },
          },
          estimates: { type: 'array', items: { type: 'string' }, description: 'what was estimated rather than measured, in words' },
          unpriced: { type: 'array', items: { type: 'string' }, description: 'tasks on a capacity the price table does not price (not in total)' },
        },
      },
      TaskUsage: {
        type: 'object',
        description: 'one ECS task of a stage as it was billed',
        properties: {
          taskArn: { type: 'string' }, cpu: { type: 'integer', description: 'CPU units' }, memory: { type: 'integer', description: 'MiB' },
          storageGiB: { type: 'integer' }, architecture: { enum: ['X86_64', 'ARM64'] }, capacity: { type: 'string', description: 'FARGATE, FARGATE_SPOT' },
          billedFrom: { type: 'integer', description: 'epoch ms: the image pull began' }, billedTo: { type: 'integer', description: 'epoch ms: the task stopped' },
          publicIpv4: { type: 'boolean' }, containers: { type: 'integer' }, events: { type: 'integer' },
        },
      },
      Step: {
        type: 'object',
        properties: {
          number: { type: 'integer' }, name: { type: 'string' }, container: { type: 'string' },
          taskArn: { type: 'string', description: 'the ECS task it ran in (a split stage runs several); absent: its stage\'s' },
          status: { enum: stepStatusEnum }, exitCode: { type: 'integer' }, detached: { type: 'boolean' },
          kind: { enum: ['step', 'service', 'clone'] },
          startedAt: { type: 'integer', description: 'epoch ms; absent before it starts, and on a skipped step (no span, as in Drone)' },
          finishedAt: { type: 'integer', description: 'epoch ms; absent until it ends, and on a skipped step' },
          reason: { type: 'string' },
        },
      },
      Stage: {
        type: 'object',
        properties: {
          number: { type: 'integer' }, name: { type: 'string' }, status: { enum: [...statusEnum, 'skipped'] },
          reason: { type: 'string' }, message: { type: 'string' }, dependsOn: { type: 'array', items: { type: 'string' } },
          queuedAt: { type: 'integer' }, startedAt: { type: 'integer' }, finishedAt: { type: 'integer' },
          notes: {
            type: 'array', maxItems: STAGE_NOTE_LIMITS.count, items: { type: 'string', maxLength: STAGE_NOTE_LIMITS.chars },
            description: 'what the compiler said about the stage that does not stop it (secrets withheld from a fork, steps sharing a container, …); absent when none',
          },
          steps: { type: 'array', items: { $ref: '#/components/schemas/Step' } },
          usage: { type: 'object', additionalProperties: { $ref: '#/components/schemas/TaskUsage' }, description: 'each ECS task of the stage, by task id, recorded as it stopped' },
          timeline: {
            type: 'object', description: 'epoch ms of the marks its task passed, recorded when it ended (ECS task times, the agent\'s, and its steps\' first start and last end)',
            properties: {
              ...Object.fromEntries(['taskCreatedAt', 'pullStartedAt', 'pullStoppedAt', 'agentStartedAt', 'clonedAt', 'readyAt', 'firstStepAt', 'lastStepAt', 'stoppingAt', 'stoppedAt'].map((k) => [k, { type: 'integer' }])),
              queuedBecause: { type: 'string', description: 'why it waited in the queue (its waiting message when its task ran)' },
              segment: { type: 'integer', description: 'a split stage: the segment this timeline is of' }, attempt: { type: 'integer' }, queuedAt: { type: 'integer' },
            },
          },
          segmentTimelines: { type: 'array', description: 'a split stage: the timelines of its segments that ended before the current one, in order', items: { type: 'object' } },
          phases: {
            type: 'array', description: 'where its time went, in order (phases may overlap: pulls run beside the clone)',
            items: { type: 'object', properties: { name: { enum: [...PHASE_NAMES] }, from: { type: 'integer' }, to: { type: 'integer' }, note: { type: 'string', description: 'why it waited, on `queued`' }, segment: { type: 'integer', description: 'a split stage: its segment' } } },
          },
        },
      },
      BuildDetail: { allOf: [{ $ref: '#/components/schemas/Build' }, { type: 'object', properties: { stages: { type: 'array', items: { $ref: '#/components/schemas/Stage' } } } }] },
      BuildList: { type: 'object', properties: { builds: { type: 'array', items: { $ref: '#/components/schemas/Build' } }, next: { type: 'string' } } },
      LogPage: {
        type: 'object',
        properties: {
          lines: { type: 'array', items: { type: 'object', properties: { time: { type: 'integer' }, offset: { type: 'integer' }, text: { type: 'string' } } } },
          next: { type: 'integer' }, cursor: { type: 'string' }, more: { type: 'boolean' }, complete: { type: 'boolean' },
        },
      },
      Metrics: {
        type: 'object',
        properties: {
          days: { type: 'integer' }, from: { type: 'integer', description: 'window start: `days` whole UTC days up to now (epoch ms)' }, to: { type: 'integer' },
          countedFrom: { type: 'integer', description: 'set when the window held more builds than one request reads: only builds created from then were counted' },
          perDay: { type: 'array', items: { type: 'object', properties: { day: { type: 'string' }, total: { type: 'integer' }, success: { type: 'integer' }, failure: { type: 'integer' }, other: { type: 'integer' }, costUsd: { type: 'number', description: 'summed cost of the day\'s priced builds' } } } },
          repos: { type: 'array', items: { type: 'object', properties: { repo: { type: 'string' }, builds: { type: 'integer' }, successRate: { type: 'number' }, queueWait: { type: 'object' }, pushToFirstStep: { type: 'object', description: 'webhook receipt → first step, ms, per build: p50, p95, count' }, duration: { type: 'object' }, costUsd: { type: 'number' }, pricedBuilds: { type: 'integer', description: 'builds with a cost (others ran nothing or finished before cost was recorded)' } } } },
          costUsd: { type: 'number', description: 'the window\'s total' },
        },
      },
    },
  },
  security: [{ bearer: [] }],
  paths: {
    '/api/repos': { get: { summary: 'Repositories by name, a page at a time', parameters: [{ name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } }, { name: 'cursor', in: 'query', schema: { type: 'string' } }], responses: { '200': { description: 'repositories', content: { 'application/json': { schema: { type: 'object', properties: { repos: { type: 'array', items: { $ref: '#/components/schemas/Repository' } }, next: { type: 'string', description: 'pass as cursor for the next page; absent on the last' } } } } } }, ...errors } } },
    '/api/builds': {
      get: {
        summary: 'Builds, newest first',
        parameters: [
          { name: 'repo', in: 'query', schema: { type: 'string' } },
          { name: 'branch', in: 'query', schema: { type: 'string' } },
          { name: 'status', in: 'query', schema: { enum: statusEnum } },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100 } },
          { name: 'cursor', in: 'query', schema: { type: 'string' } },
        ],
        responses: { '200': { description: 'a page of builds', ...json('BuildList') }, ...errors },
      },
    },
    '/api/repos/activate': {
      post: {
        summary: 'Activate a repository on its Git host; answers its webhook URL and new secret (shown once)',
        parameters: [
          { name: 'repo', in: 'query', required: true, schema: { type: 'string' }, description: 'OWNER/NAME as the host spells it (GitLab: GROUP/…/NAME)' },
          { name: 'host', in: 'query', required: true, schema: { type: 'string', enum: ['github', 'gitea', 'gitlab'] } },
          { name: 'visibility', in: 'query', schema: { type: 'string', enum: ['private', 'internal', 'public'], default: 'private' }, description: 'private and internal repositories are cloned with the host token' },
          { name: 'trusted', in: 'query', schema: { type: 'boolean', default: false } },
          { name: 'capacity', in: 'query', schema: { type: 'string', enum: ['warm', 'fargate'] } },
          { name: 'pullThroughCache', in: 'query', schema: { type: 'boolean', default: true }, description: 'false: its images are pulled as written, not through the cache' },
        ],
        responses: { '201': { description: 'activated', ...json('RepoActivation') }, '409': { description: 'already activated, or active on another host', ...json('Error') }, ...errors },
      },
    },
    '/api/repos/rotate-secret': {
      post: {
        summary: "Replace a repository's webhook secret (the old one stops working); answers the new one, shown once",
        parameters: [{ name: 'repo', in: 'query', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'the new secret', ...json('RepoActivation') }, ...errors },
      },
    },
    '/api/app/github/secret': {
      post: {
        summary: "Store the GitHub App's webhook secret (the one in the App's settings); the answer never repeats it",
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['secret'], properties: { secret: { type: 'string', minLength: 16, maxLength: 4096 } } } } } },
        responses: { '200': { description: 'stored', content: { 'application/json': { schema: { type: 'object', properties: { app: { const: 'github' }, webhookUrl: { type: 'string' } } } } } }, '400': { description: 'no secret, or one too short or long', ...json('Error') }, ...errors },
      },
    },
    '/api/repos/update': {
      post: {
        summary: "Change an active repository's settings: only those named; applies to builds planned from then on",
        parameters: [
          { name: 'repo', in: 'query', required: true, schema: { type: 'string' } },
          { name: 'trusted', in: 'query', schema: { type: 'boolean' } },
          { name: 'capacity', in: 'query', schema: { type: 'string', enum: ['warm', 'fargate'] } },
          { name: 'visibility', in: 'query', schema: { type: 'string', enum: ['private', 'internal', 'public'] } },
          { name: 'pullThroughCache', in: 'query', schema: { type: 'boolean' } },
        ],
        responses: {
          '200': {
            description: 'the repository after the change, and each named setting before and after',
            content: { 'application/json': { schema: { type: 'object', properties: { repo: { $ref: '#/components/schemas/Repository' }, changes: { type: 'array', items: { type: 'object', properties: { setting: { enum: ['trusted', 'capacity', 'visibility', 'pullThroughCache'] }, from: {}, to: {} } } } } } } },
          },
          '400': { description: 'no setting named, an unknown parameter or a bad value', ...json('Error') },
          '409': { description: 'a local directory (slipway run), or removed or activated again while the update ran', ...json('Error') },
          ...errors,
        },
      },
    },
    '/api/repos/remove': {
      post: {
        summary: 'Deactivate a repository: its webhooks run nothing, its secret is deleted, its builds stay',
        parameters: [{ name: 'repo', in: 'query', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'the repository', content: { 'application/json': { schema: { type: 'object', properties: { repo: { $ref: '#/components/schemas/Repository' } } } } } }, ...errors },
      },
    },
    ...buildPaths('/api/builds/{number}', buildParams, true),
    ...buildPaths('/api/repos/{owner}/{name}/builds/{number}', repoParams, false),
    '/api/metrics': { get: { summary: 'CI metrics', parameters: [{ name: 'days', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 365 } }], responses: { '200': { description: 'metrics', ...json('Metrics') }, ...errors } } },
  },
} as const;
