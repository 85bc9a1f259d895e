// image_pull_secrets holding a Docker config, end to end on the local stand-ins: a push plans
// the build, the planner reads the pull secret through the SDK (Secrets Manager's JSON key
// `.dockerconfigjson`, as grafana/loki's file names it; a repository secret in SSM), writes each
// registry's login into a derived secret in ECS's {"username","password"} form, and the ECS
// stand-in fetches it for the task as ECS fetches repositoryCredentials before any container
// starts (it refuses a secret of another shape). No value reaches a log or the task definition.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DescribeTaskDefinitionCommand, ECSClient } from '@aws-sdk/client-ecs';
import { E2E_REPO, startE2e, stepTable, type E2e } from '../support/control-plane-e2e.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const dockerConfig = (auths: Record<string, string>) => JSON.stringify({ auths: Object.fromEntries(Object.entries(auths).map(([host, login]) => [host, { auth: b64(login) }])) });
const GCR_PASSWORD = 'gcr-pa55-e2e';
const HUB_PASSWORD = 'hub-pa55-e2e';

const PIPELINE = `kind: pipeline
type: docker
name: deploy
image_pull_secrets: [dockerconfigjson, dockerconfig]
services:
- name: cache
  image: redis:7
steps:
- name: deploy
  image: gcr.io/acme/deployer:2
  commands:
  - echo deployed
- name: build
  image: registry.example.com/team/builder:1
  commands:
  - echo built
---
kind: secret
name: dockerconfigjson
get:
  path: /slipway/${E2E_REPO}/gcr
  name: .dockerconfigjson
`;

let e2e: E2e;
beforeAll(async () => {
  e2e = await startE2e({
    name: 'e2e-pull-secrets',
    secretsManager: true,
    env: { ACCOUNT_ID: '000000000000', PARTITION: 'aws' },
    secrets: {
      [`/slipway/${E2E_REPO}/gcr`]: JSON.stringify({ '.dockerconfigjson': dockerConfig({ 'https://gcr.io': `_json_key:${GCR_PASSWORD}` }) }),
      [`/slipway/${E2E_REPO}/dockerconfig`]: dockerConfig({ 'registry.example.com': `ci:${HUB_PASSWORD}` }),
    },
  });
});
afterAll(async () => {
  await e2e?.stop();
});

describe('Docker config pull secrets, end to end', () => {
  it("derives each registry's login into ECS's form; the task fetches them and runs; no value in logs or the task definition", async () => {
    const detail = await e2e.buildOf(PIPELINE, 'pull-secrets-1');
    expect({ status: detail.status, error: detail.error, steps: stepTable(detail) }).toEqual({
      status: 'success',
      error: undefined,
      steps: [{ stage: 'deploy', status: 'success', steps: ['clone:clone=success', 'service:cache=success', 'step:deploy=success', 'step:build=success'] }],
    });
    const sm = e2e.secretsManager!;
    const gcr = `/slipway/${E2E_REPO}/slipway-pull.dockerconfigjson.gcr.io`;
    const registry = `/slipway/${E2E_REPO}/slipway-pull.dockerconfig.registry.example.com`;
    expect(JSON.parse(sm.secrets.get(gcr)!.value)).toEqual({ username: '_json_key', password: GCR_PASSWORD });
    expect(JSON.parse(sm.secrets.get(registry)!.value)).toEqual({ username: 'ci', password: HUB_PASSWORD });
    expect(sm.secrets.get(gcr)!.tags).toEqual([{ Key: 'slipway:derived', Value: 'pull-credentials' }]);

    const stage = detail.stages[0]!;
    const task = e2e.aws.ecs.tasks().find((t) => t.taskArn === stage.taskArn) as { taskDefinitionArn: string; containers: { name: string }[] };
    const described = await new ECSClient(e2e.aws.clientConfig('ecs')).send(new DescribeTaskDefinitionCommand({ taskDefinition: task.taskDefinitionArn }));
    const containers = described.taskDefinition!.containerDefinitions!;
    // Each registry's images name its derived secret; the service (Docker Hub, no login) none.
    expect(Object.fromEntries(containers.filter((c) => c.repositoryCredentials).map((c) => [c.name, c.repositoryCredentials!.credentialsParameter]))).toEqual({
      deploy: `arn:aws:secretsmanager:${e2e.aws.region}:000000000000:secret:${gcr}`,
      build: `arn:aws:secretsmanager:${e2e.aws.region}:000000000000:secret:${registry}`,
    });
    const definition = JSON.stringify(described);
    const logs = task.containers.map((c) => e2e.aws.ecs.logs(stage.taskArn!, c.name).map((l) => l.message).join('\n')).join('\n');
    for (const value of [GCR_PASSWORD, HUB_PASSWORD]) {
      expect(logs).not.toContain(value);
      expect(definition).not.toContain(value);
      expect(JSON.stringify(e2e.logLines)).not.toContain(value);
    }
    expect(e2e.logLines.some((l) => l.message === 'pull secrets derived')).toBe(true);
  });

  it('a second build leaves the derived secrets as they are; a changed Docker config rewrites them', async () => {
    const sm = e2e.secretsManager!;
    const gcr = `/slipway/${E2E_REPO}/slipway-pull.dockerconfigjson.gcr.io`;
    const before = sm.secrets.get(gcr)!.versions;
    expect((await e2e.buildOf(PIPELINE, 'pull-secrets-2')).status).toBe('success');
    expect(sm.secrets.get(gcr)!.versions).toBe(before);
    sm.secrets.get(`/slipway/${E2E_REPO}/gcr`)!.value = JSON.stringify({ '.dockerconfigjson': dockerConfig({ 'gcr.io': '_json_key:rotated' }) });
    expect((await e2e.buildOf(PIPELINE, 'pull-secrets-3')).status).toBe('success');
    expect(sm.secrets.get(gcr)).toMatchObject({ versions: before + 1, value: JSON.stringify({ username: '_json_key', password: 'rotated' }) });
  });

  it('a secret of the derived name that Slipway did not write is never changed: the pipeline errors saying so, and no task runs', async () => {
    const sm = e2e.secretsManager!;
    const registry = `/slipway/${E2E_REPO}/slipway-pull.dockerconfig.registry.example.com`;
    sm.secrets.set(registry, { value: 'kept by a person', tags: [], versions: 1 });
    const tasksBefore = e2e.aws.ecs.tasks().length;
    const detail = await e2e.buildOf(PIPELINE, 'pull-secrets-4');
    expect(detail.status).toBe('error');
    expect(detail.error).toMatch(/image_pull_secrets: "dockerconfig" \(the repository secret .*\/dockerconfig\) cannot be read as a Docker config: pull credentials: the secret .*slipway-pull\.dockerconfig\.registry\.example\.com exists but was not written by Slipway/);
    expect(sm.secrets.get(registry)!.value).toBe('kept by a person');
    await e2e.plane.idle();
    expect(e2e.aws.ecs.tasks().length).toBe(tasksBefore);
  });
});
