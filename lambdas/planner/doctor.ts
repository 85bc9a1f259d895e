// The planner's answers to `slipway doctor` (core/doctor/planner-probe.ts), for a direct
// invocation rather than an events-queue batch:
// - git-host: the repository's API resource, asked with the planner's own credentials; the
//   answer carries the host's status and message, never a credential.
// - hello: plans the doctor's hello-world pipeline (core/doctor/hello.ts) as a build of its own
//   repository, through planEvent like any push, so the autoscaler, ECS and the task events
//   run it exactly as they run a team's build. Its file comes from here, not from a Git host.

import { randomUUID } from 'node:crypto';
import { HELLO_PIPELINE, HELLO_REPO } from '../../core/doctor/hello.js';
import type { GitHostProbeAnswer, HelloAnswer, PlannerDoctorRequest } from '../../core/doctor/planner-probe.js';
import type { BuildHook } from '../../core/scm/types.js';
import { RepositoryNameError, ScmConfigError } from '../../core/scm/locate.js';
import type { ScmAccess, ScmRepo } from '../shared/scm.js';
import { type PlannerDeps, planEvent } from './plan-event.js';

export type DoctorAnswer = GitHostProbeAnswer | HelloAnswer;

export function answerDoctor(request: PlannerDoctorRequest, deps: PlannerDeps): Promise<DoctorAnswer> {
  return request.slipwayDoctor === 'hello' ? planHello(deps) : probeGitHost(request.repo, deps);
}

async function probeGitHost(slug: string, deps: PlannerDeps): Promise<GitHostProbeAnswer> {
  const repository = await deps.store.getRepository(slug);
  if (!repository || !repository.active) return { kind: 'not-activated', repo: slug, reason: `repository ${slug} is not activated` };
  if (repository.scm === 'local') return { kind: 'local', repo: slug, path: repository.httpUrl };
  const host = repository.scm;
  let location: { httpUrl: string; link: string };
  try {
    location = await deps.scm.locate(repository);
  } catch (err) {
    if (err instanceof ScmConfigError || err instanceof RepositoryNameError) return { kind: 'not-configured', host, repo: slug, reason: err.message };
    throw err;
  }
  try {
    const answer = await deps.scm.probe({ ...repository, ...location, scm: host });
    return 'error' in answer ? { kind: 'unreachable', host, repo: slug, ...answer } : { kind: 'answered', host, repo: slug, ...answer };
  } catch (err) {
    if (err instanceof ScmConfigError) return { kind: 'not-configured', host, repo: slug, reason: err.message };
    throw err;
  }
}

/** The hello build's repository: activated (public, no clone) on the doctor's first run. */
async function planHello(deps: PlannerDeps): Promise<HelloAnswer> {
  const existing = await deps.store.getRepository(HELLO_REPO);
  // It has no Git host: `local` names a repository whose file Slipway is given, as local mode's.
  const link = 'slipway-doctor:hello';
  if (!existing || !existing.active || existing.scm !== 'local') {
    await deps.store.activateRepository({ slug: HELLO_REPO, scm: 'local', visibility: 'public', activatedAt: deps.now(), httpUrl: link, link });
  }
  const sha = randomUUID().replaceAll('-', '').padEnd(40, '0');
  const hook: BuildHook = {
    kind: 'build',
    event: 'push',
    action: '',
    repo: { slug: HELLO_REPO, owner: 'slipway-doctor', name: 'hello', scm: 'local', httpUrl: link, link, defaultBranch: 'main', private: false, visibility: 'public' },
    commit: {
      sha,
      ref: 'refs/heads/main',
      branch: 'main',
      message: 'slipway doctor: hello-world build',
      link,
      author: { login: 'slipway-doctor', name: 'slipway doctor', email: '', avatar: '' },
    },
    sender: 'slipway-doctor',
  };
  const outcome = await planEvent({ version: 1, deliveryId: `doctor-${randomUUID()}`, host: 'local', receivedAt: deps.now(), hook }, { ...deps, scm: withHelloRepository(deps.scm) });
  if (outcome.kind === 'skipped') return { kind: 'not-planned', reason: outcome.reason };
  if (outcome.kind === 'invalid') return { kind: 'not-planned', reason: `the hello pipeline did not compile: ${outcome.error}` };
  const number = Number(outcome.buildId.slice(outcome.buildId.lastIndexOf('#') + 1));
  return { kind: 'planned', buildId: outcome.buildId, repo: HELLO_REPO, number };
}

/**
 * The deployment's Git host access, except for the hello repository: its file is ours, its
 * statuses go nowhere. The planner's wiring uses it for every message (a restarted hello build
 * is planned from the events queue); planHello applies it too, for planners wired otherwise
 * (wrapping twice changes nothing).
 */
export function withHelloRepository(scm: ScmAccess): ScmAccess {
  const isHello = (slug: string) => slug === HELLO_REPO;
  const installationOf = scm.githubInstallation?.bind(scm);
  return {
    locate: (repo) => (isHello(repo.slug) ? Promise.resolve({ httpUrl: repo.httpUrl, link: repo.link }) : scm.locate(repo)),
    fetchConfig: (repo, path, sha) => (isHello(repo.slug) ? Promise.resolve(HELLO_PIPELINE) : scm.fetchConfig(repo, path, sha)),
    postStatus: (repo, sha, status) => (isHello(repo.slug) ? Promise.resolve() : scm.postStatus(repo, sha, status)),
    probe: (repo) => scm.probe(repo),
    ...(installationOf ? { githubInstallation: (repo: ScmRepo) => (isHello(repo.slug) ? Promise.resolve(undefined) : installationOf(repo)) } : {}),
  };
}
