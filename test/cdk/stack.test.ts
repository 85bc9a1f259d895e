// The deployable stack's security-relevant properties, proven on the synthesized template
// (with cdk-nag's AwsSolutions checks). Synthesized once per variant: with the fixture
// handlers, and with the project's real Lambdas when they exist.
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tableDefinition } from '../../adapters/dynamodb/keys.js';
import { ENV, FUNCTION_ENV } from '../../core/config/lambda-env.js';
import { LAMBDA_NAMES, type LambdaName } from '../../lib/functions.js';
import { GITHUB_APP_SECRET_NAME } from '../../lib/functions/context.js';
import { GITHUB_APP_SECRET_SLUG } from '../../lambdas/shared/webhook-secrets.js';
import { PROJECT_ROOT, type SlipwayProps } from '../../lib/slipway.js';
import { type Synthesized, asList, fixtureProps, iamStatements, lambdaFunction, logicalIds, realEntriesPresent, synthSlipway } from './synth.js';

const variants: { name: string; props: () => SlipwayProps; enabled: boolean; validate: boolean }[] = [
  // CDK's own CloudFormation schema validation is slow (seconds): run it on one variant.
  { name: 'fixture handlers', props: () => fixtureProps(), enabled: true, validate: true },
  {
    name: 'the real Lambdas',
    // The project's own entries, agent Dockerfile and (placeholder if unbuilt) dashboard.
    props: () => ({ dashboardWhenMissing: 'placeholder' }),
    enabled: realEntriesPresent() && existsSync(join(PROJECT_ROOT, 'task-runner', 'Dockerfile')),
    validate: false,
  },
];

for (const variant of variants) {
  describe.skipIf(!variant.enabled)(`Slipway stack (${variant.name})`, () => {
    let s: Synthesized;
    let dockerLog: string;

    beforeAll(() => {
      // A `docker` that records any call: synth must build no image and bundle without Docker.
      const shimDir = mkdtempSync(join(tmpdir(), 'slipway-docker-shim-'));
      dockerLog = join(shimDir, 'calls.log');
      writeFileSync(join(shimDir, 'docker'), `#!/bin/sh\necho "$@" >> ${dockerLog}\nexit 1\n`);
      chmodSync(join(shimDir, 'docker'), 0o755);
      const path = process.env.PATH;
      process.env.PATH = `${shimDir}:${path}`;
      try {
        s = synthSlipway(variant.props(), { validate: variant.validate });
      } finally {
        process.env.PATH = path;
      }
    });
    afterAll(() => s?.cleanup());

    const resources = (type: string) => Object.entries(s.json.Resources).filter(([, r]) => r.Type === type);
    const fn = (name: LambdaName) => lambdaFunction(s.json, name);
    const policyOf = (name: LambdaName) => {
      const roleId = (fn(name).props.Role as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0];
      return iamStatements(s.json)
        .filter(({ owner }) => {
          const roles = (s.json.Resources[owner]?.Properties?.Roles as { Ref: string }[] | undefined) ?? [];
          return roles.some((r) => r.Ref === roleId);
        })
        .map(({ statement }) => statement);
    };

    it('synthesizes with no cdk-nag AwsSolutions error left unacknowledged', () => {
      expect(s.error?.message).toBeUndefined();
      expect(s.findings.filter((f) => f.severity === 'error')).toEqual([]);
    });

    it('never calls Docker while synthesizing (images build at deploy, Lambdas bundle with local esbuild)', () => {
      expect(existsSync(dockerLog) ? readFileSync(dockerLog, 'utf8') : '').toBe('');
      const assets = JSON.parse(readFileSync(join(s.outdir, `${s.stack.artifactId}.assets.json`), 'utf8'));
      // The agent, once per Fargate architecture.
      expect(Object.values(assets.dockerImages ?? {}).map((a: any) => a.source.platform).sort()).toEqual(['linux/amd64', 'linux/arm64']);
    });

    it('gives the planner an agent image per architecture (an arm64 pipeline runs the arm64 build), and the account and partition', () => {
      const assets = JSON.parse(readFileSync(join(s.outdir, `${s.stack.artifactId}.assets.json`), 'utf8'));
      const tagOf = (platform: string) => Object.entries(assets.dockerImages as Record<string, any>).find(([, a]) => a.source.platform === platform)![0];
      const env = fn('planner').props.Environment.Variables as Record<string, unknown>;
      expect(JSON.stringify(env.AGENT_IMAGE_ARM64)).toContain(tagOf('linux/arm64'));
      expect(JSON.stringify(env.AGENT_IMAGE_AMD64)).toContain(tagOf('linux/amd64'));
      expect(env.ACCOUNT_ID).toEqual({ Ref: 'AWS::AccountId' });
      expect(env.PARTITION).toEqual({ Ref: 'AWS::Partition' });
    });

    it('lets build tasks read the repository secrets in Secrets Manager (kind: secret, image_pull_secrets) under the prefix only', () => {
      const exec = iamStatements(s.json).filter(({ owner }) => owner.includes('TaskExecutionRole')).map((x) => x.statement);
      const repo = exec.filter((st) => st.Sid === 'RepositorySecretsManagerSecrets');
      expect(repo).toHaveLength(1);
      expect(repo[0]!.Action).toBe('secretsmanager:GetSecretValue');
      expect(repo[0]!.Resource).toEqual({
        'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':secretsmanager:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':secret:/slipway/*']],
      });
    });

    it('lets build tasks pull images from the account\'s ECR repositories (not only the agent\'s)', () => {
      const exec = iamStatements(s.json).filter(({ owner }) => owner.includes('TaskExecutionRole')).map((x) => x.statement);
      const pulls = exec.filter((st) => st.Sid === 'PullImages');
      expect(pulls).toHaveLength(1);
      expect(asList(pulls[0]!.Action).sort()).toEqual(['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer']);
      expect(pulls[0]!.Resource).toEqual({
        'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ecr:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':repository/*']],
      });
      // Importing upstream images (the pull-through cache, on by default: lib/pull-through-cache.ts)
      // only in the cache's own statement, on its prefixes' repositories, never on every repository.
      const imports = exec.filter((st) => asList(st.Action).includes('ecr:BatchImportUpstreamImage'));
      expect(imports.map((st) => st.Sid)).toEqual(['PullThroughCache']);
      for (const r of asList(imports[0]!.Resource as never)) expect(JSON.stringify(r)).toMatch(/:repository\/[a-z0-9._-]+\/\*"/);
    });

    it("gives a fork's pull request no pull of the account's repositories by default: the agent and the cache rules without credentials only (Drone gives forks no pull secrets)", () => {
      const [fork] = logicalIds(s.json, 'AWS::IAM::Role', 'SlipwayBuildClusterForkExecutionRole');
      const attached = Object.values(s.json.Resources).filter((r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties!.Roles ?? []).includes(JSON.stringify({ Ref: fork })));
      const pulls = attached
        .flatMap((p) => (p.Properties!.PolicyDocument as { Statement: { Effect: string; Action: string | string[]; Resource: unknown }[] }).Statement)
        .filter((st) => st.Effect === 'Allow' && asList(st.Action).includes('ecr:BatchGetImage'))
        .flatMap((st) => asList(st.Resource).map((r) => /:repository\/([^"]+)"/.exec(JSON.stringify(r))?.[1] ?? JSON.stringify(r)));
      expect(pulls.filter((name) => !name.includes('container-assets')).sort()).toEqual(
        ['slipway-ecr-public/*', 'slipway-k8s/*', 'slipway-quay/*', 'slipway-soci/slipway-ecr-public/*', 'slipway-soci/slipway-k8s/*', 'slipway-soci/slipway-quay/*'].sort(),
      );
      expect(lambdaFunction(s.json, 'planner').props.Environment.Variables[ENV.forkPullRepositories]).toBeUndefined();
    });

    it('lets the planner check that secrets exist without reading them: ssm:DescribeParameters and secretsmanager:DescribeSecret under the prefix', () => {
      const planner = policyOf('planner');
      expect(planner.find((st) => st.Sid === 'SecretsExist')).toEqual({ Sid: 'SecretsExist', Effect: 'Allow', Action: 'ssm:DescribeParameters', Resource: '*' });
      const describe = planner.find((st) => st.Sid === 'SecretsManagerSecretsExist')!;
      expect(describe.Action).toBe('secretsmanager:DescribeSecret');
      expect(JSON.stringify(describe.Resource)).toMatch(/:secret:\/slipway\/\*"\]\]\}$/);
      // Values only through the pull secrets' statements below: no GetParameters, no other SSM action.
      const actions = planner.flatMap((st) => asList(st.Action));
      expect(actions.filter((a) => a.startsWith('ssm:')).sort()).toEqual(['ssm:DescribeParameters', 'ssm:GetParameter']);
    });

    // image_pull_secrets holding a Docker config (core/pipeline/pull-logins.ts): read under the
    // repository prefix, derived secrets created only tagged and changed only when tagged.
    it("lets the planner read Docker config pull secrets under the prefix and write only its tagged derived secrets", () => {
      const planner = policyOf('planner');
      const sid = (id: string) => planner.find((st) => st.Sid === id)!;
      expect(sid('PullSecretsReadParameters').Action).toBe('ssm:GetParameter');
      expect(JSON.stringify(sid('PullSecretsReadParameters').Resource)).toMatch(/:parameter\/slipway\/\*"\]\]\}$/);
      expect(sid('PullSecretsReadSecrets').Action).toBe('secretsmanager:GetSecretValue');
      expect(JSON.stringify(sid('PullSecretsReadSecrets').Resource)).toMatch(/:secret:\/slipway\/\*"\]\]\}$/);
      expect((sid('PullSecretsDecrypt').Condition as Record<string, Record<string, unknown>>).StringEquals!['kms:ViaService']).toBeDefined();
      const create = sid('DerivedPullSecretsCreate');
      expect(asList(create.Action).sort()).toEqual(['secretsmanager:CreateSecret', 'secretsmanager:TagResource']);
      expect(JSON.stringify(create.Resource)).toMatch(/:secret:\/slipway\/\*\/slipway-pull\.\*"\]\]\}$/);
      expect(create.Condition).toEqual({ StringEquals: { 'aws:RequestTag/slipway:derived': 'pull-credentials' }, 'ForAllValues:StringEquals': { 'aws:TagKeys': ['slipway:derived'] } });
      const update = sid('DerivedPullSecretsUpdate');
      expect(update.Action).toBe('secretsmanager:PutSecretValue');
      expect(update.Condition).toEqual({ StringEquals: { 'secretsmanager:ResourceTag/slipway:derived': 'pull-credentials' } });
      // No other write to Secrets Manager, and none anywhere else.
      const writes = planner.flatMap((st) => asList(st.Action)).filter((a) => /^secretsmanager:(Create|Put|Update|Delete|Tag|Untag|Restore|Rotate)/.test(a));
      expect(writes.sort()).toEqual(['secretsmanager:CreateSecret', 'secretsmanager:PutSecretValue', 'secretsmanager:TagResource']);
    });

    it("creates no NAT gateway, lets nothing into build tasks, and into split pipelines' service tasks only build tasks' traffic", () => {
      s.template.resourceCountIs('AWS::EC2::NatGateway', 0);
      s.template.resourceCountIs('AWS::EC2::EIP', 0);
      const groupsNamed = (prefix: string) => resources('AWS::EC2::SecurityGroup').filter(([, r]) => String(r.Properties?.GroupDescription).startsWith(prefix));
      const builds = groupsNamed('Slipway build tasks');
      const services = groupsNamed('Slipway service tasks');
      expect(builds).toHaveLength(1);
      expect(services).toHaveLength(1);
      const [buildGroupId, buildGroup] = builds[0]!;
      const [serviceGroupId, serviceGroup] = services[0]!;
      // The build group's description is the first release's: CloudFormation replaces a group whose description changes.
      expect(buildGroup.Properties?.GroupDescription).toBe('Slipway build tasks: no inbound traffic; outbound to clone, pull images and reach AWS');
      expect(buildGroup.Properties?.SecurityGroupIngress).toBeUndefined();
      expect(serviceGroup.Properties?.SecurityGroupIngress).toBeUndefined();
      const ingressInto = (id: string) => resources('AWS::EC2::SecurityGroupIngress').filter(([, r]) => JSON.stringify(r.Properties?.GroupId).includes(`"${id}"`));
      expect(ingressInto(buildGroupId)).toEqual([]);
      // One rule: TCP from members of the build group, no address range.
      expect(ingressInto(serviceGroupId).map(([, r]) => r.Properties)).toEqual([
        {
          GroupId: { 'Fn::GetAtt': [serviceGroupId, 'GroupId'] },
          SourceSecurityGroupId: { 'Fn::GetAtt': [buildGroupId, 'GroupId'] },
          IpProtocol: 'tcp',
          FromPort: 0,
          ToPort: 65535,
          Description: 'Segments of a split pipeline reach its service task',
        },
      ]);
      // The autoscaler starts service tasks in that group.
      const autoscaler = resources('AWS::Lambda::Function').find(([, r]) => JSON.stringify(r.Properties?.Environment ?? {}).includes('SERVICE_SECURITY_GROUP_IDS'));
      expect(JSON.stringify(autoscaler?.[1].Properties?.Environment)).toContain(`"SERVICE_SECURITY_GROUP_IDS":{"Fn::GetAtt":["${serviceGroupId}","GroupId"]}`);
    });

    it('has no wildcard action in any IAM policy, and `*` resources only where AWS requires them', () => {
      const cdkManaged = (owner: string) => owner.startsWith('CustomCDKBucketDeployment');
      for (const { owner, statement } of iamStatements(s.json)) {
        for (const action of asList(statement.Action)) {
          if (cdkManaged(owner)) continue; // aws-cdk-lib's own s3-deployment handler (acknowledged beside it)
          expect(action, `${owner}: ${action}`).not.toMatch(/\*/);
        }
        if (asList(statement.Resource as unknown).includes('*')) {
          const actions = asList(statement.Action).sort();
          const allowed = [
            ['ecs:DescribeTaskDefinition', 'ecs:RegisterTaskDefinition'],
            ['ecs:ListTasks'],
            ['ecr:GetAuthorizationToken'],
            ['ssm:DescribeParameters'],
            ['cloudfront:CreateInvalidation', 'cloudfront:GetInvalidation'],
            // The Price List has no resource-level permission (the prices Lambda's only read).
            ['pricing:GetProducts'],
          ];
          expect(allowed.map((a) => a.join())).toContain(actions.join());
          if (actions.includes('ecs:ListTasks')) expect(statement.Condition).toHaveProperty(['ArnEquals', 'ecs:cluster']);
        }
      }
    });

    it("lets the autoscaler RunTask only Slipway families in its cluster, and PassRole only the build task roles (a fork's execution and task roles among them)", () => {
      const statements = policyOf('autoscaler');
      const runTask = statements.filter((st) => asList(st.Action).includes('ecs:RunTask'));
      expect(runTask).toHaveLength(1);
      expect(JSON.stringify(runTask[0]!.Resource)).toMatch(/:task-definition\/slipway-\*"/);
      expect(asList(runTask[0]!.Resource as unknown)).toHaveLength(1);
      expect(runTask[0]!.Condition).toEqual({ ArnEquals: { 'ecs:cluster': { 'Fn::GetAtt': [expect.stringMatching(/^SlipwayBuildCluster/), 'Arn'] } } });

      const passRole = statements.filter((st) => asList(st.Action).includes('iam:PassRole'));
      expect(passRole).toHaveLength(1);
      const roles = asList(passRole[0]!.Resource as { 'Fn::GetAtt': string[] }[]).map((r) => r['Fn::GetAtt'][0]);
      expect(roles.sort()).toEqual([expect.stringMatching(/BuildTaskRole/), expect.stringMatching(/ForkExecutionRole/), expect.stringMatching(/ForkTaskRole/), expect.stringMatching(/TaskExecutionRole/)]);
      expect(passRole[0]!.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } });
      // Nobody else may start tasks or pass roles.
      for (const name of LAMBDA_NAMES.filter((n) => n !== 'autoscaler')) {
        const actions = policyOf(name).flatMap((st) => asList(st.Action));
        expect(actions).not.toContain('ecs:RunTask');
        expect(actions).not.toContain('iam:PassRole');
      }
    });

    it("gives the webhook only what it needs: send to the events queue, its table items, the repositories' webhook secrets", () => {
      const actions = policyOf('webhook').flatMap((st) => asList(st.Action)).sort();
      expect(actions).toEqual(
        [
          'dynamodb:ConditionCheckItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem',
          'ssm:GetParameter',
          'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage',
          'logs:CreateLogStream', 'logs:PutLogEvents',
        ].sort(),
      );
    });

    it('lets the planner log into ECR and read image manifests and configs of any ECR repository, nobody else', () => {
      const ecr = policyOf('planner').filter((st) => asList(st.Action).some((a) => a.startsWith('ecr:')));
      expect(ecr).toEqual([
        { Sid: 'EcrLogin', Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
        {
          Sid: 'EcrReadImageConfigs',
          Effect: 'Allow',
          Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'],
          Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ecr:*:*:repository/*']] },
        },
      ]);
      // Reads only: nothing that pushes, deletes or changes a repository.
      for (const name of LAMBDA_NAMES.filter((n) => n !== 'planner')) {
        expect(policyOf(name).flatMap((st) => asList(st.Action)).filter((a) => a.startsWith('ecr:'))).toEqual([]);
      }
    });

    it('lets the planner and task-events nudge the autoscaler (invoke of that one function only), nobody else', () => {
      for (const name of ['planner', 'task-events'] as const) {
        const invoke = policyOf(name).filter((st) => asList(st.Action).includes('lambda:InvokeFunction'));
        expect(invoke).toHaveLength(1);
        expect(invoke[0]!.Resource).toEqual({ 'Fn::GetAtt': [fn('autoscaler').id, 'Arn'] });
      }
      for (const name of ['webhook', 'autoscaler', 'api'] as const) {
        expect(policyOf(name).flatMap((st) => asList(st.Action))).not.toContain('lambda:InvokeFunction');
      }
    });

    it('lets task-events read the build log group (the agent result line) and nothing else of CloudWatch Logs', () => {
      const reads = (name: LambdaName) => policyOf(name).filter((st) => asList(st.Action).some((a) => a.startsWith('logs:') && a !== 'logs:CreateLogStream' && a !== 'logs:PutLogEvents'));
      const statements = reads('task-events');
      expect(statements).toHaveLength(1);
      expect(asList(statements[0]!.Action).sort()).toEqual(['logs:FilterLogEvents', 'logs:GetLogEvents']);
      // The build log group only (CDK's LogGroup.grant: its ARN with and without `:*`), the group BUILD_LOG_GROUP names.
      const group = fn('task-events').props.Environment.Variables.BUILD_LOG_GROUP as { Ref: string };
      expect(s.json.Resources[group.Ref]!.Type).toBe('AWS::Logs::LogGroup');
      const resources = asList(statements[0]!.Resource as unknown);
      expect(resources).toContainEqual({ 'Fn::GetAtt': [group.Ref, 'Arn'] });
      for (const resource of resources) {
        expect(JSON.stringify(resource)).toContain(`"${group.Ref}"`);
        expect(JSON.stringify(resource)).not.toMatch(/log-group:\*|"\*"/);
      }
      expect(fn('api').props.Environment.Variables.BUILD_LOG_GROUP).toEqual(group);
      // Only the API (step logs) and task-events read build logs.
      for (const name of ['webhook', 'planner', 'autoscaler'] as const) expect(reads(name)).toEqual([]);
    });

    it('lets build tasks read only the /slipway/… SSM parameters and the GitHub App clone tokens (and decrypt them through SSM)', () => {
      const exec = iamStatements(s.json).filter(({ owner }) => owner.includes('TaskExecutionRole')).map((x) => x.statement);
      // Repository secrets and clone tokens sit in different policies (forks get the clone tokens only).
      const ssm = exec.filter((st) => asList(st.Action).some((a) => a.startsWith('ssm:'))).sort((a, b) => (b.Sid ?? '').localeCompare(a.Sid ?? ''));
      expect(ssm.map((st) => st.Sid)).toEqual(['RepositorySecrets', 'AppCloneTokens']);
      for (const st of ssm) expect(asList(st.Action)).toEqual(['ssm:GetParameters']);
      expect(JSON.stringify(ssm[0]!.Resource)).toMatch(/:parameter\/slipway\/\*"\]\]\}$/);
      expect(JSON.stringify(ssm[1]!.Resource)).toMatch(/:parameter\/slipway-clone-tokens\/github\/\*"\]\]\}$/);
      const kms = exec.find((st) => asList(st.Action).includes('kms:Decrypt'));
      expect(kms?.Condition).toEqual({
        StringEquals: {
          'kms:ViaService': [
            { 'Fn::Join': ['', ['ssm.', { Ref: 'AWS::Region' }, '.amazonaws.com']] },
            { 'Fn::Join': ['', ['secretsmanager.', { Ref: 'AWS::Region' }, '.amazonaws.com']] },
          ],
        },
      });
      // The build task role has no permission at all.
      const taskRole = logicalIds(s.json, 'AWS::IAM::Role', 'SlipwayBuildClusterBuildTaskRole');
      expect(taskRole).toHaveLength(1);
      expect(s.json.Resources[taskRole[0]!]!.Properties?.Policies).toBeUndefined();
      expect(iamStatements(s.json).filter(({ owner }) => owner.startsWith('SlipwayBuildClusterBuildTaskRole'))).toEqual([]);
    });

    it('lets build tasks read the clone tokens: GetSecretValue on the SCM credentials secret only, which the planner references', () => {
      const exec = iamStatements(s.json).filter(({ owner }) => owner.includes('TaskExecutionRole')).map((x) => x.statement);
      const secrets = exec.filter((st) => asList(st.Action).some((a) => a.startsWith('secretsmanager:')));
      const plannerArn = fn('planner').props.Environment.Variables.SCM_CREDENTIALS_SECRET_ARN as { Ref: string };
      expect(s.json.Resources[plannerArn.Ref]!.Type).toBe('AWS::SecretsManager::Secret');
      // The agent's `secrets` name `<that ARN>:githubCloneToken::` (lambdas/shared/clone-credentials.ts).
      expect(secrets.filter((st) => st.Sid !== 'RepositorySecretsManagerSecrets')).toEqual([
        { Sid: 'CloneTokens', Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: plannerArn },
      ]);
      // Secrets Manager's AWS managed key needs no grant: the only kms:Decrypt is the one through SSM and Secrets Manager.
      const kms = exec.filter((st) => asList(st.Action).includes('kms:Decrypt'));
      expect(kms).toHaveLength(1);
      expect(s.json.Resources[plannerArn.Ref]!.Properties?.KmsKeyId).toBeUndefined();
    });

    it('lets the autoscaler write GitHub App clone tokens (PutParameter only, under their own prefix) with the App key it reads, and no other function touch them', () => {
      const env = (name: LambdaName) => fn(name).props.Environment.Variables as Record<string, unknown>;
      expect(env('planner')[ENV.cloneTokensPrefix]).toBe('/slipway-clone-tokens');
      expect(env('autoscaler')[ENV.cloneTokensPrefix]).toBe('/slipway-clone-tokens');
      const write = policyOf('autoscaler').filter((st) => asList(st.Action).some((a) => a.startsWith('ssm:')));
      expect(write).toEqual([
        {
          Sid: 'WriteCloneTokens',
          Effect: 'Allow',
          Action: 'ssm:PutParameter',
          Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ssm:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':parameter/slipway-clone-tokens/github/*']] },
        },
      ]);
      // The App's key: the SCM credentials secret, read.
      const scm = env('autoscaler').SCM_CREDENTIALS_SECRET_ARN as { Ref: string };
      expect(scm).toEqual(env('planner').SCM_CREDENTIALS_SECRET_ARN);
      const reads = policyOf('autoscaler').filter((st) => asList(st.Action).includes('secretsmanager:GetSecretValue'));
      // …and the snapshot signer's keys (test/cdk/snapshot-bucket.test.ts), nothing else.
      expect(reads.map((st) => st.Resource).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))).toEqual(
        [scm, env('autoscaler')[ENV.snapshotSignerSecretArn]].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
      );
      // Nobody else may read or write there (the execution role reads, see above).
      for (const name of LAMBDA_NAMES.filter((n) => n !== 'autoscaler')) {
        expect(JSON.stringify(policyOf(name)), name).not.toContain('slipway-clone-tokens');
      }
    });

    it('encrypts every queue, enforces TLS, gives each work queue a DLQ and alarms on every DLQ', () => {
      const queues = resources('AWS::SQS::Queue');
      expect(queues).toHaveLength(5);
      for (const [, q] of queues) expect(q.Properties?.SqsManagedSseEnabled).toBe(true);
      const dlqTargets = queues
        .map(([, q]) => (q.Properties?.RedrivePolicy as { deadLetterTargetArn: { 'Fn::GetAtt': string[] } } | undefined)?.deadLetterTargetArn['Fn::GetAtt'][0])
        .filter(Boolean);
      const events = queues.find(([id]) => /^SlipwayQueuesEvents[0-9A-F]{8}$/.test(id));
      const jobs = queues.find(([id]) => /^SlipwayQueuesJobs[0-9A-F]{8}$/.test(id));
      expect(events?.[1].Properties?.RedrivePolicy).toMatchObject({ maxReceiveCount: 5 });
      expect(jobs?.[1].Properties?.RedrivePolicy).toBeDefined();
      const taskEventsDlq = (fn('task-events').props.DeadLetterConfig as { TargetArn: { 'Fn::GetAtt': string[] } }).TargetArn['Fn::GetAtt'][0];
      const deadLetters = [...dlqTargets, taskEventsDlq];
      expect(deadLetters).toHaveLength(3);
      for (const dlq of deadLetters) {
        s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          MetricName: 'ApproximateNumberOfMessagesVisible',
          Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlq, 'QueueName'] } }],
          Threshold: 1,
        });
      }
      for (const [id] of queues) {
        s.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
          Queues: [{ Ref: id }],
          PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
        });
      }
    });

    it('routes ECS task state changes of this cluster only to task-events', () => {
      const rules = resources('AWS::Events::Rule').filter(([, r]) => r.Properties?.EventPattern);
      expect(rules).toHaveLength(1);
      const rule = rules[0]![1].Properties!;
      expect(rule.EventPattern).toEqual({
        source: ['aws.ecs'],
        'detail-type': ['ECS Task State Change'],
        detail: { clusterArn: [{ 'Fn::GetAtt': [expect.stringMatching(/^SlipwayBuildCluster/), 'Arn'] }] },
      });
      expect(rule.Targets).toEqual([expect.objectContaining({ Arn: { 'Fn::GetAtt': [fn('task-events').id, 'Arn'] } })]);
    });

    it('runs the autoscaler every minute, alone (reserved concurrency 1)', () => {
      s.template.hasResourceProperties('AWS::Events::Rule', {
        ScheduleExpression: 'rate(1 minute)',
        Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [fn('autoscaler').id, 'Arn'] } })],
      });
      expect(fn('autoscaler').props.ReservedConcurrentExecutions).toBe(1);
      s.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        FunctionName: { Ref: fn('planner').id },
        FunctionResponseTypes: ['ReportBatchItemFailures'],
      });
    });

    it('refreshes the price table once a day with pricing:GetProducts, its only right beyond writing the table', () => {
      s.template.hasResourceProperties('AWS::Events::Rule', {
        ScheduleExpression: 'rate(1 day)',
        Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [fn('prices').id, 'Arn'] } })],
      });
      const statements = policyOf('prices');
      const actions = statements.flatMap((st) => asList(st.Action)).filter((a) => !a.startsWith('logs:'));
      expect(actions.sort()).toEqual(['dynamodb:PutItem', 'pricing:GetProducts']);
      // GetProducts has no resource-level permission; the table write names the table only.
      expect(statements.find((st) => asList(st.Action).includes('pricing:GetProducts'))?.Resource).toBe('*');
      expect(JSON.stringify(statements.find((st) => asList(st.Action).includes('dynamodb:PutItem'))?.Resource)).toMatch(/SlipwayTable/);
      // Nobody else reads the Price List.
      for (const name of LAMBDA_NAMES.filter((n) => n !== 'prices')) {
        expect(policyOf(name).flatMap((st) => asList(st.Action)).filter((a) => a.startsWith('pricing:')), name).toEqual([]);
      }
      expect(fn('prices').props.Environment.Variables.PRICE_REGIONS).toEqual({ Ref: 'AWS::Region' });
    });

    it('has no deployment-wide webhook secret: each repository has its own under an SSM prefix only the webhook reads', () => {
      const webhookEnv = fn('webhook').props.Environment.Variables as Record<string, unknown>;
      expect(webhookEnv).not.toHaveProperty('WEBHOOK_SECRET');
      expect(webhookEnv).not.toHaveProperty('WEBHOOK_SECRET_ARN');
      expect(webhookEnv.WEBHOOK_SECRETS_PREFIX).toBe('/slipway-webhooks');
      expect(fn('api').props.Environment.Variables.WEBHOOK_SECRETS_PREFIX).toBe('/slipway-webhooks');
      expect(resources('AWS::SecretsManager::Secret').map(([, r]) => String(r.Properties?.Description))).not.toContainEqual(expect.stringMatching(/webhook/i));
      const apiSecretId = (fn('api').props.Environment.Variables as Record<string, { Ref: string }>).API_TOKEN_SECRET_ARN!.Ref;
      expect(s.json.Resources[apiSecretId]!.Properties?.GenerateSecretString).toBeDefined();

      const onHookPrefix = (st: { Resource?: unknown }) => JSON.stringify(st.Resource ?? '').includes(':parameter/slipway-webhooks/*');
      // The webhook reads; the API writes and deletes, and cannot read back what it wrote.
      expect(policyOf('webhook').filter(onHookPrefix).map((st) => asList(st.Action))).toEqual([['ssm:GetParameter']]);
      expect(policyOf('api').filter(onHookPrefix).map((st) => asList(st.Action).sort())).toEqual([['ssm:DeleteParameter', 'ssm:PutParameter']]);
      // …on repositories' names only (<host>/<owner>/<name>: two slashes), so not on the GitHub
      // App's secret, which the API may put (slipway app set-secret) but never delete.
      expect(policyOf('api').filter(onHookPrefix).map((st) => JSON.stringify(st.Resource))).toEqual([expect.stringContaining(':parameter/slipway-webhooks/*/*/*')]);
      expect(GITHUB_APP_SECRET_NAME).toBe(`github/${GITHUB_APP_SECRET_SLUG}`);
      const onAppSecret = (st: { Resource?: unknown }) => JSON.stringify(st.Resource ?? '').includes(`:parameter/slipway-webhooks/${GITHUB_APP_SECRET_NAME}"`);
      expect(policyOf('api').filter(onAppSecret).map((st) => asList(st.Action))).toEqual([['ssm:PutParameter']]);
      // Nobody else: no other Lambda, no build role, no policy anywhere else names the prefix
      // or holds an ssm:GetParameter* on a wildcard that would cover it.
      const webhookRole = (fn('webhook').props.Role as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0];
      const apiRole = (fn('api').props.Role as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0];
      for (const { owner, statement } of iamStatements(s.json)) {
        const roles = ((s.json.Resources[owner]?.Properties?.Roles as { Ref: string }[] | undefined) ?? []).map((r) => r.Ref);
        if (roles.includes(webhookRole!) || roles.includes(apiRole!)) continue;
        expect(onHookPrefix(statement), owner).toBe(false);
        const reads = asList(statement.Action).filter((a) => a.startsWith('ssm:Get'));
        // The build secrets' prefix or the clone tokens' (lib/config.ts keeps both apart from the webhook secrets').
        if (reads.length > 0) expect(JSON.stringify(statement.Resource), owner).toMatch(/:parameter\/(slipway|slipway-clone-tokens\/github)\/\*"/);
      }
    });

    it('gives each Lambda exactly its environment, on arm64 Node 24 with an ESM bundle and its own log group', () => {
      for (const name of LAMBDA_NAMES) {
        const props = fn(name).props;
        // Per-architecture agent images on these defaults; which function reads what: lambda-env.test.ts.
        // The planner also gets the pull-through cache's rules, on by default (lib/pull-through-cache.ts).
        const expected = [...FUNCTION_ENV[name].always, ...(name === 'planner' ? ['AGENT_IMAGE_AMD64', 'AGENT_IMAGE_ARM64', 'PULL_THROUGH_CACHE'] : [])];
        expect(Object.keys(props.Environment.Variables).sort(), name).toEqual(expected.sort());
        expect(props.Environment.Variables, name).toMatchObject({ POWERTOOLS_SERVICE_NAME: 'slipway', ...(name === 'webhook' || name === 'prices' ? {} : { POWERTOOLS_METRICS_NAMESPACE: 'Slipway' }) });
        expect(props.Runtime).toBe('nodejs24.x');
        expect(props.Architectures).toEqual(['arm64']);
        expect(props.Handler).toBe('index.handler');
        const logGroupId = (props.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
        expect(s.json.Resources[logGroupId]!.Properties?.RetentionInDays).toBe(30);
      }
      for (const [, group] of resources('AWS::Logs::LogGroup')) expect(group.Properties?.RetentionInDays).toBeGreaterThan(0);
    });

    it('bundles each handler into a small runnable ES module', async () => {
      const sizes: Record<string, number> = {};
      for (const name of LAMBDA_NAMES) {
        const asset = (fn(name).props.Code as { S3Key: string }).S3Key.replace(/\.zip$/, '');
        const dir = join(s.outdir, `asset.${asset}`);
        // index.mjs, and the chunks it imports (lib/bundling.ts splits what handlers load with import()).
        const files = readdirSync(dir);
        expect(files).toContain('index.mjs');
        expect(files.filter((f) => f !== 'index.mjs' && !/^chunk-[A-Z0-9]+\.mjs$/.test(f))).toEqual([]);
        sizes[name] = statSync(join(dir, 'index.mjs')).size;
        expect(sizes[name]).toBeLessThan(1024 * 1024);
      }
      if (variant.name === 'fixture handlers') {
        // The webhook fixture loads (ESM + createRequire banner) and refuses an unsigned request.
        const dir = join(s.outdir, `asset.${(fn('webhook').props.Code as { S3Key: string }).S3Key.replace(/\.zip$/, '')}`);
        const mod = (await import(pathToFileURL(join(dir, 'index.mjs')).href)) as { handler: (e: unknown) => Promise<{ statusCode: number }> };
        await expect(mod.handler({ body: '{}', headers: {} })).resolves.toEqual({ statusCode: 401 });
      }
    });

    it('declares the table from adapters/dynamodb/keys.ts: on demand, PITR, TTL, deletion protection', () => {
      const definition = tableDefinition('x');
      s.template.hasResourceProperties('AWS::DynamoDB::Table', {
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: definition.KeySchema,
        AttributeDefinitions: Match.arrayWith(definition.AttributeDefinitions),
        GlobalSecondaryIndexes: definition.GlobalSecondaryIndexes.map((g) => Match.objectLike({ IndexName: g.IndexName, KeySchema: g.KeySchema, Projection: g.Projection })),
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        DeletionProtectionEnabled: true,
      });
      s.template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain' });
    });

    it('offers Fargate and Fargate Spot capacity in the build cluster', () => {
      s.template.hasResourceProperties('AWS::ECS::ClusterCapacityProviderAssociations', {
        CapacityProviders: Match.arrayWith(['FARGATE', 'FARGATE_SPOT']),
      });
    });

    it('serves the dashboard from a private bucket through CloudFront, with /api/* going to the API', () => {
      s.template.hasResourceProperties('AWS::S3::Bucket', {
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      });
      s.template.hasResourceProperties('AWS::CloudFront::Distribution', {
        DistributionConfig: Match.objectLike({
          DefaultRootObject: 'index.html',
          CacheBehaviors: [Match.objectLike({ PathPattern: '/api/*', ViewerProtocolPolicy: 'https-only' })],
        }),
      });
      s.template.resourceCountIs('Custom::CDKBucketDeployment', 1);
      s.template.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'NONE', TargetFunctionArn: { 'Fn::GetAtt': [fn('api').id, 'Arn'] } });
    });

    it('exposes only the webhook and the API publicly, through function URLs', () => {
      const urls = Object.values(s.json.Resources).filter((r) => r.Type === 'AWS::Lambda::Url');
      expect(urls.map((u) => (u.Properties?.TargetFunctionArn as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0]).sort()).toEqual(
        [fn('api').id, fn('webhook').id].sort(),
      );
      for (const name of ['webhook', 'api'] as const) {
        s.template.hasResourceProperties('AWS::Lambda::Permission', {
          Action: 'lambda:InvokeFunction',
          Principal: '*',
          InvokedViaFunctionUrl: true,
          FunctionName: { 'Fn::GetAtt': [fn(name).id, 'Arn'] },
        });
      }
    });

    it('outputs what an operator needs after deploy', () => {
      for (const output of ['WebhookUrlGitHub', 'WebhookUrlGitea', 'WebhookUrlGitLab', 'WebhookSecretsPrefix', 'ApiUrl', 'ApiTokenSecretArn', 'DashboardUrl', 'ClusterName']) {
        s.template.hasOutput(output, {});
      }
      expect(JSON.stringify(s.json.Outputs?.WebhookUrlGitHub)).toContain('hooks/github');
      expect(JSON.stringify(s.json.Outputs?.ApiUrl)).toContain('/api/');
    });
  });
}
