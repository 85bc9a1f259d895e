// The start model's control-plane profile, read from the code rather than assumed: whether the
// planner's path to RunTask waits for the Git host's answer to the pending commit status. The
// planner's own start of a build (lambdas/planner/start-build.ts) runs here against in-memory
// stores and a Git host that does not answer until told to; if the autoscaler is nudged (and
// the stage queued) before that answer, the status is off the path.

import type { Build, Stage } from '../../core/builds/types.js';
import type { StageJob } from '../../core/scaling/job.js';
import { startBuild, type StartBuildDeps } from '../../lambdas/planner/start-build.js';
import type { ScmAccess } from '../../lambdas/shared/scm.js';
import { MemoryJobQueue } from '../../test/support/memory-stores.js';
import { SCHEDULED_PASS_SECONDS } from '../../core/scaling/pass-schedule.js';
import { ANNOUNCE_GRACE_MS } from '../../lambdas/autoscaler/autoscaler.js';
import { isScheduledPass, receiveWaitSeconds, type AutoscalerEvent } from '../../lambdas/autoscaler/handler.js';
import { NUDGE_SOURCE, nudgePayload } from '../../lambdas/shared/nudge.js';
import { GATE_BACKOFF } from '../../task-runner/backoff.js';
import type { Ec2PassProfile } from './ec2-start-model.js';

const BUILD: Build = {
  id: 'acme/app#1',
  repo: 'acme/app',
  number: 1,
  status: 'pending',
  event: 'push',
  action: '',
  ref: 'refs/heads/main',
  branch: 'main',
  commit: 'a'.repeat(40),
  message: 'change',
  author: 'octocat',
  link: '',
  deliveryId: 'd-1',
  fork: false,
  createdAt: 0,
};
const STAGE: Stage = { buildId: BUILD.id, repo: BUILD.repo, buildNumber: 1, number: 1, name: 'default', status: 'pending', dependsOn: [], attempts: 0 };
const JOB: StageJob = { stageKey: `${BUILD.id}/1`, buildId: BUILD.id, stageNumber: 1, repo: BUILD.repo, pipeline: 'default', cpu: 1024, memory: 2048, taskDefinition: { family: 'f' }, runTask: {}, queuedAt: 0 };

/** Lets every promise chain that can move without I/O move (the stores here are in memory). */
async function settle(): Promise<void> {
  for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** True when the planner nudges the autoscaler only after the Git host answered the pending status. */
export async function pendingStatusOnPath(): Promise<boolean> {
  let answer!: () => void;
  const answered = new Promise<void>((resolve) => (answer = resolve));
  let posted = false;
  let nudged = false;
  const jobs = new MemoryJobQueue();
  const scm: ScmAccess = {
    locate: async () => ({ httpUrl: '', link: '' }),
    fetchConfig: async () => null,
    postStatus: async () => {
      posted = true;
      await answered;
    },
    probe: async () => ({ apiUrl: '', error: 'not in the bench' }),
  };
  const deps: StartBuildDeps = {
    store: { getBuild: async () => BUILD, listStages: async () => [STAGE], getRepository: async () => null },
    stages: { getStageJob: async () => JOB },
    now: () => Date.now(),
    scm,
    jobs,
    nudge: async () => {
      nudged = true;
    },
    log: () => undefined,
  };
  const started = startBuild({ scm: 'github', slug: BUILD.repo, link: '', httpUrl: '' }, BUILD, [STAGE], deps);
  await settle();
  if (!posted) throw new Error('start model: the planner posted no pending status; the control-plane profile cannot be read');
  const onPath = !nudged;
  answer();
  await started;
  if (!nudged) throw new Error('start model: the planner never nudged the autoscaler');
  return onPath;
}

/**
 * The autoscaler's passes on EC2 capacity, as its code and the stack's decide them (the EC2
 * start model's Ec2PassProfile): the schedule, the grace of an unannounced stage, the wait of
 * the first receive in the pass the planner's own nudge starts, whether an instance joining
 * the cluster nudges a pass (the stack's rule, synthesized here on its own, delivering an
 * event the handler passes on without reconciling), and the agent gate's back-off.
 */
export async function ec2PassProfile(): Promise<Ec2PassProfile> {
  const plannerNudge = JSON.parse(nudgePayload(NUDGE_SOURCE.planner)) as AutoscalerEvent;
  return {
    scheduleSeconds: SCHEDULED_PASS_SECONDS,
    announceGraceSeconds: ANNOUNCE_GRACE_MS / 1000,
    nudgedReceiveWaitSeconds: receiveWaitSeconds(plannerNudge),
    registrationNudges: await registrationNudgesAutoscaler(),
    gateBackoff: GATE_BACKOFF,
  };
}

/** True when the stack's rule sends an ACTIVE, connected container instance's event to the autoscaler as a nudge. */
export async function registrationNudgesAutoscaler(): Promise<boolean> {
  const [{ App, Stack }, ecs, lambda, { nudgeOnInstanceRegistration }] = await Promise.all([
    import('aws-cdk-lib'),
    import('aws-cdk-lib/aws-ecs'),
    import('aws-cdk-lib/aws-lambda'),
    import('../../lib/instance-registration-nudge.js'),
  ]);
  const stack = new Stack(new App(), 'Probe', { env: { account: '123456789012', region: 'eu-west-1' } });
  const cluster = ecs.Cluster.fromClusterAttributes(stack, 'Cluster', { clusterName: 'builds', clusterArn: 'arn:aws:ecs:eu-west-1:123456789012:cluster/builds', vpc: undefined as never });
  const fn = lambda.Function.fromFunctionArn(stack, 'Autoscaler', 'arn:aws:lambda:eu-west-1:123456789012:function:autoscaler');
  nudgeOnInstanceRegistration(stack, cluster, fn);
  const resources = Object.values((stack.node.root as InstanceType<typeof App>).synth().getStackByName('Probe').template.Resources ?? {}) as { Type: string; Properties: Record<string, any> }[];
  const rule = resources.find((r) => r.Type === 'AWS::Events::Rule' && r.Properties.EventPattern?.['detail-type']?.includes('ECS Container Instance State Change'));
  const target = rule?.Properties.Targets?.find((t: { Arn?: unknown }) => t.Arn === fn.functionArn);
  if (!target) return false;
  const event = JSON.parse(target.Input as string) as AutoscalerEvent;
  return event.nudge === true && !isScheduledPass(event);
}
