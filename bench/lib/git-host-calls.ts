// How many Git host calls (and clone-token writes) the path from the webhook to RunTask waits
// for, read from the code rather than assumed: a push of a private GitHub repository with a
// GitHub App, planned by the planner's own planEvent (through createScmAccess, as deployed)
// and its stage started by the autoscaler's own startStage (with the clone-token minter the
// handler wires), against in-memory stores and a GitHub that holds every answer until told.
// The driver answers one held request at a time, oldest first, until the planner has nudged
// the autoscaler (or the autoscaler has called RunTask): the answers given by then are the
// calls on the path; a request still held then (the pending status) is beside it.
//
// Each function is measured as a new instance (`cold`: a Lambda just initialized), as the same
// instance at a second push within its tokens' life (`warm`), and as the same instance at a
// push that finds its last token too old to use (`refreshed`: the planner refreshes a token
// five minutes before its hour ends, the autoscaler reuses one with 45 minutes left), each for a
// repository that has built before: an earlier push, by instances gone since, left the App's
// installation on the repository's record. A repository's first push, with nothing kept yet, is
// measured apart (gitHostFirstPush).

import { generateKeyPairSync } from 'node:crypto';
import type { GithubInstallation, Repository } from '../../core/builds/types.js';
import type { NewBuild } from '../../core/builds/ports.js';
import type { EventMessage, Fetch } from '../../core/scm/types.js';
import type { StageJob } from '../../core/scaling/job.js';
import { ENV } from '../../core/config/lambda-env.js';
import { DEFAULT_LIMITS } from '../../core/scaling/decide-scale.js';
import { planEvent, type PlannerDeps } from '../../lambdas/planner/plan-event.js';
import { createScmAccess } from '../../lambdas/shared/scm.js';
import { installationKeeper } from '../../lambdas/shared/github-app-tokens.js';
import { cloneCredentialsFor } from '../../lambdas/shared/clone-credentials.js';
import { DEFAULT_CLONE_TOKENS_PREFIX } from '../../lambdas/shared/clone-tokens.js';
import { cloneTokensFromEnv } from '../../lambdas/autoscaler/handler.js';
import { startStage } from '../../lambdas/autoscaler/start-stage.js';
import type { AutoscalerDeps } from '../../lambdas/autoscaler/deps.js';
import { MemoryBuildStore, MemoryJobQueue, MemoryStageStore } from '../../test/support/memory-stores.js';
import type { GitHostPath, StartCalls } from './start-model.js';

const SLUG = 'acme/app';
const PIPELINE = 'kind: pipeline\ntype: docker\nname: default\nsteps:\n- name: test\n  image: node:20\n  commands:\n  - npm test\n';
const REGION = 'eu-west-1';
const ACCOUNT = '123456789012';
const HOUR_MS = 3_600_000;

/** GitHub's API for one App installed on SLUG, answering each request only when released. */
class HeldGithub {
  private held: { what: string; release: () => void }[] = [];
  private holding = true;
  private tokens = 0;
  /** How long the tokens minted from now on live. */
  tokenLifeMs = HOUR_MS;

  readonly fetch: Fetch = async (input, init) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const method = (init?.method ?? 'GET').toUpperCase();
    const what = `${method} ${url.pathname}`;
    if (this.holding) await new Promise<void>((release) => this.held.push({ what, release }));
    return this.answer(method, url.pathname);
  };

  /** Answers the oldest held request; undefined when none is held. */
  releaseOldest(): string | undefined {
    const next = this.held.shift();
    next?.release();
    return next?.what;
  }

  /** Answers everything held, and from now on every request at once. */
  releaseAll(): void {
    this.holding = false;
    for (const h of this.held.splice(0)) h.release();
  }

  hold(): void {
    this.holding = true;
  }

  private answer(method: string, path: string): Response {
    const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
    if (method === 'GET' && path === `/repos/${SLUG}/installation`) return json(200, { id: 7 });
    if (method === 'POST' && path === '/app/installations/7/access_tokens') {
      return json(201, { token: `ghs_${++this.tokens}`, expires_at: new Date(Date.now() + this.tokenLifeMs).toISOString() });
    }
    if (method === 'GET' && path === `/repos/${SLUG}/contents/.drone.yml`) return new Response(PIPELINE, { status: 200, headers: { 'content-type': 'application/vnd.github.raw' } });
    if (method === 'POST' && path.startsWith(`/repos/${SLUG}/statuses/`)) return json(201, {});
    return json(404, { message: 'Not Found' });
  }
}

/** Lets every promise chain that can move without I/O move (everything here is in memory). */
async function settle(): Promise<void> {
  for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** Answers held requests one by one until `arrived`; how many it answered. Then answers the rest and waits for `work`. */
async function answersUntil(github: HeldGithub, arrived: () => boolean, work: Promise<unknown>, what: string): Promise<number> {
  github.hold();
  let answered = 0;
  for (;;) {
    await settle();
    if (arrived()) break;
    if (github.releaseOldest() === undefined) {
      github.releaseAll();
      const outcome = await work;
      throw new Error(`start model: ${what} never happened, and nothing was waiting for GitHub (${JSON.stringify(outcome)})`);
    }
    answered += 1;
  }
  github.releaseAll();
  await work;
  return answered;
}

/** The build table the planner writes, in memory: only what planEvent and the installation keeper call. */
class PlannerStore extends MemoryBuildStore {
  readonly maxStagesPerBuild = 50;
  private counter = 0;
  private readonly deliveries = new Map<string, string>();
  constructor(private repository: Repository) {
    super();
  }
  async buildForDelivery(id: string): Promise<string | null> {
    return this.deliveries.get(id) ?? null;
  }
  async getRepository(slug: string): Promise<Repository | null> {
    return slug === this.repository.slug ? this.repository : null;
  }
  async setRepositoryLocation(): Promise<void> {}
  async setGithubInstallation(slug: string, installation: GithubInstallation): Promise<void> {
    if (slug === this.repository.slug) this.repository = { ...this.repository, githubInstallation: installation };
  }
  async nextBuildNumber(): Promise<number> {
    return ++this.counter;
  }
  async createBuild(input: NewBuild): Promise<{ created: true; build: NewBuild['build'] }> {
    this.add(input.build, input.stages, input.steps);
    this.deliveries.set(input.build.deliveryId, input.build.id);
    return { created: true, build: input.build };
  }
}

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
const credentials = { github: { apiUrl: 'https://api.github.test', webUrl: 'https://github.test', appId: '42', privateKey } };
const REPOSITORY: Repository = {
  slug: SLUG, scm: 'github', httpUrl: `https://github.test/${SLUG}.git`, link: `https://github.test/${SLUG}`, defaultBranch: 'main',
  configPath: '.drone.yml', private: true, visibility: 'private', counter: 0, active: true,
};

/** The deployment's table and jobs queue, which outlive the Lambda instances that use them. */
function deployment() {
  const store = new PlannerStore(REPOSITORY);
  return { store, stages: new MemoryStageStore(store), jobs: new MemoryJobQueue(), pushes: 0 };
}

/** One Lambda instance of the planner and one of the autoscaler, sharing a GitHub and a deployment's table and queue. */
function instances(github: HeldGithub, table: ReturnType<typeof deployment>) {
  const { store, stages, jobs } = table;
  const repository = REPOSITORY;
  let nudged = 0;
  let ranTasks = 0;
  let ssmWrites = 0;
  const log = () => undefined;
  const planner: PlannerDeps = {
    store: store as unknown as PlannerDeps['store'],
    stages,
    // As deployed (lambdas/planner/deps.ts): an installation GitHub names is kept on the record.
    scm: createScmAccess({ credentials: async () => credentials, fetch: github.fetch, keepInstallation: installationKeeper(store, log) }),
    jobs,
    nudge: async () => {
      nudged += 1;
    },
    compile: { logGroup: '/slipway/builds', region: REGION },
    cloneCredentials: async (repo) => cloneCredentialsFor(repo, credentials, undefined, { prefix: DEFAULT_CLONE_TOKENS_PREFIX, region: REGION, accountId: ACCOUNT, partition: 'aws' }),
    system: { host: 'ci.example.com', proto: 'https', version: 'bench' },
    now: Date.now,
    log,
  };
  const autoscaler = {
    store,
    stages,
    jobs,
    now: Date.now,
    log,
    postBuildStatus: async () => undefined,
    nudge: async () => undefined,
    config: { tableName: 't', jobsQueueUrl: 'q', cluster: 'builds', subnets: ['subnet-1'], securityGroups: [], serviceSecurityGroups: [], assignPublicIp: 'DISABLED', useSpot: false, defaultCpu: 1024, limits: { ...DEFAULT_LIMITS } },
    ecs: {
      send: async (command: { constructor: { name: string }; input: { family?: string; taskDefinition?: string } }) => {
        const name = command.constructor.name;
        if (name === 'DescribeTaskDefinitionCommand') return { taskDefinition: { taskDefinitionArn: `arn:aws:ecs:${REGION}:${ACCOUNT}:task-definition/${command.input.taskDefinition}:1` } };
        if (name === 'RunTaskCommand') {
          ranTasks += 1;
          return { tasks: [{ taskArn: `arn:aws:ecs:${REGION}:${ACCOUNT}:task/builds/${ranTasks}` }], failures: [] };
        }
        throw new Error(`start model: the autoscaler sent ${name}, which this probe does not answer`);
      },
    },
    cloneTokens: cloneTokensFromEnv({ [ENV.scmCredentials]: JSON.stringify(credentials) }, { put: async () => void (ssmWrites += 1) }, github.fetch, installationKeeper(store, log)),
  } as unknown as AutoscalerDeps;

  /** A push planned, then its stage started: the calls each waited for. */
  const push = async (): Promise<{ planner: number; autoscaler: StartCalls }> => {
    const n = ++table.pushes;
    const sha = n.toString(16).padStart(40, 'a');
    const message: EventMessage = {
      version: 1,
      deliveryId: `bench-${n}`,
      host: 'github',
      receivedAt: Date.now(),
      hook: {
        kind: 'build', event: 'push', action: '', sender: 'octocat',
        repo: { slug: SLUG, owner: 'acme', name: 'app', scm: 'github', httpUrl: repository.httpUrl, link: repository.link, defaultBranch: 'main', private: true, visibility: 'private' },
        commit: { sha, ref: 'refs/heads/main', branch: 'main', message: 'change', link: '', author: { login: 'octocat', name: 'Octo Cat', email: 'o@example.com', avatar: '' } },
      },
    };
    const nudgedBefore = nudged;
    const plannerCalls = await answersUntil(github, () => nudged > nudgedBefore, planEvent(message, planner), 'the nudge');
    const job: StageJob | undefined = jobs.enqueued.at(-1);
    if (!job || job.buildId !== `${SLUG}#${n}`) throw new Error('start model: the planner queued no stage for the push');
    const stage = await stages.getStageConsistent(job.buildId, job.stageNumber);
    if (!stage) throw new Error('start model: the queued stage is not in the table');
    const ranBefore = ranTasks;
    const writesBefore = ssmWrites;
    let writesAtRunTask = -1;
    const started = startStage(autoscaler, { job, stage }).then((result) => {
      if (result.kind !== 'started') throw new Error(`start model: the stage did not start: ${JSON.stringify(result)}`);
    });
    const autoscalerCalls = await answersUntil(
      github,
      () => {
        if (ranTasks > ranBefore && writesAtRunTask < 0) writesAtRunTask = ssmWrites - writesBefore;
        return ranTasks > ranBefore;
      },
      started,
      'RunTask',
    );
    return { planner: plannerCalls, autoscaler: { gitHost: autoscalerCalls, ssmWrites: writesAtRunTask } };
  };
  return { push, github };
}

/** The calls on the path as the code makes them now, for a new instance, a warm one, and one whose tokens are too old. */
export async function gitHostPath(): Promise<GitHostPath> {
  const github = new HeldGithub();
  const table = deployment();
  // The repository's first push, by instances gone since: its installation is on its record.
  await instances(github, table).push();
  const one = instances(github, table);
  const cold = await one.push();
  const warm = await one.push();
  // Another pair of instances whose first tokens are minted with too little life left for either to use again.
  const other = new HeldGithub();
  const otherTable = deployment();
  await instances(other, otherTable).push();
  const aged = instances(other, otherTable);
  other.tokenLifeMs = 4 * 60_000;
  await aged.push();
  other.tokenLifeMs = HOUR_MS;
  const refreshed = await aged.push();
  return {
    planner: { cold: cold.planner, warm: warm.planner, refreshed: refreshed.planner },
    autoscaler: { cold: cold.autoscaler, warm: warm.autoscaler, refreshed: refreshed.autoscaler },
  };
}

/** A repository's first push, to new instances: nothing is kept yet; the planner looks the installation up (and keeps it) and puts it on the job. */
export async function gitHostFirstPush(): Promise<{ planner: number; autoscaler: StartCalls }> {
  return instances(new HeldGithub(), deployment()).push();
}
