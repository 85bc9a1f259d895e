import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RegisterTaskDefinitionCommand, RunTaskCommand, type RunTaskCommandInput } from '@aws-sdk/client-ecs';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliContext } from '../../cli/commands/compile.js';
import { CompileError, compileManifest, compilePipeline, type CompiledStage } from '../../core/pipeline/compile.js';
import { ecsSafeName, NameAllocator } from '../../core/pipeline/container-names.js';
import { AGENT_CONTAINER, AGENT_ENV, STATE_BUSYBOX, STEP_RECORD_VOLUME_PREFIX, stepRecordVolume, type AgentPlan } from '../../core/pipeline/contract.js';
import { familyName } from '../../core/pipeline/family.js';
import { DEFAULT_IMAGE_BUILDER } from '../../core/pipeline/image-build.js';
import { fargateSize } from '../../core/pipeline/fargate-size.js';
import { isValid, loadManifest } from '../../core/pipeline/load.js';
import { TRUNCATION_MARKER, UPSTREAM_RESERVE } from '../../core/pipeline/override-budget.js';
import { MAX_OVERRIDE_CHARS } from '../../core/pipeline/limits.js';
import { FIXTURE_OPTIONS } from './support.js';
import { NETRC_ENV as AGENT_NETRC_ENV } from '../../task-runner/credentials.js';
import { NETRC_ENV } from '../../core/pipeline/contract.js';
import { HANG_GUARD_MS } from '../support/wait.js';

const push = cliContext({ repo: 'acme/app', commit: 'a'.repeat(40) });

function compileYaml(yaml: string, ctx = push, options = FIXTURE_OPTIONS) {
  const manifest = loadManifest('.drone.yml', yaml);
  if (!isValid(manifest)) throw new Error(manifest.diagnostics.map((d) => d.message).join('\n'));
  const result = compileManifest(manifest, ctx, options);
  // A pipeline with errors is listed in `errors` (the others still compile); these tests
  // compile one pipeline, so its errors are what they look at.
  if (result.errors.length > 0) throw new CompileError(result.errors.flatMap((e) => e.diagnostics));
  return result;
}

function stage(yaml: string, ctx = push): CompiledStage {
  return compileYaml(yaml, ctx).stages[0]!;
}

const pipeline = (steps: string, extra = '') => `kind: pipeline\ntype: docker\nname: p\n${extra}\nsteps:\n${steps}`;
const step = (name: string, commands: string[], more = '') =>
  `  - name: ${name}\n    image: alpine:3.20\n    commands: [${commands.map((c) => JSON.stringify(c)).join(', ')}]\n${more}`;

describe('family', () => {
  it('is the same for the same pipeline whatever the run, and changes with the content', () => {
    const yaml = pipeline(step('test', ['make test']));
    const a = stage(yaml);
    const b = stage(yaml, { ...cliContext({ repo: 'acme/app', commit: 'b'.repeat(40) }), build: { ...push.build, number: 99 } });
    expect(a.taskDefinition.family).toBe(b.taskDefinition.family);
    expect(a.taskDefinition).toEqual(b.taskDefinition);
    expect(a.taskDefinition.family).toMatch(/^slipway-p-[0-9a-f]{16}$/);
    const changed = stage(pipeline(step('test', ['make test', 'make lint'])));
    expect(changed.taskDefinition.family).not.toBe(a.taskDefinition.family);
  });

  it('keeps per-run values out of the definition and puts them in the overrides', () => {
    const s = stage(pipeline(step('test', ['make'])));
    expect(JSON.stringify(s.taskDefinition)).not.toContain('a'.repeat(40));
    const agent = s.runTask.overrides!.containerOverrides!.find((o) => o.name === AGENT_CONTAINER)!;
    const build = JSON.parse(agent.environment!.find((e) => e.name === AGENT_ENV.build)!.value!);
    expect(build.commit.sha).toBe('a'.repeat(40));
    expect(agent.environment!.find((e) => e.name === AGENT_ENV.stageId)!.value).toBe('build-42-1');
    expect(s.runTask.clientToken).toBe('build-42-1');
  });

  it('is pure: compiling twice gives equal output', () => {
    const yaml = pipeline(step('a', ['x']) + step('b', ['y'], '    when:\n      status: [failure]\n'));
    expect(compileYaml(yaml)).toEqual(compileYaml(yaml));
  });

  it('names are safe for ECS and bounded', () => {
    expect(familyName('my pipeline/ü', '{}')).toMatch(/^slipway-my-pipeline-[0-9a-f]{16}$/);
    expect(familyName('x'.repeat(400), '{}').length).toBeLessThanOrEqual(255);
  });
});

describe('containers', () => {
  it('mounts the agent\'s state read-only in every container but the agent (steps cannot change what later steps run with)', () => {
    const s = stage(`${pipeline(step('test', ['make']) + step('deploy', ['./deploy']))}services:\n- name: db\n  image: postgres:15\n`);
    const defs = s.taskDefinition.containerDefinitions!;
    expect(s.taskDefinition.volumes!.map((v) => v.name)).toEqual(expect.arrayContaining(['slipway-state', 'slipway-agent']));
    for (const d of defs) {
      const agentState = d.mountPoints!.find((m) => m.sourceVolume === 'slipway-agent');
      if (!agentState) continue;
      expect(agentState, d.name).toEqual({ sourceVolume: 'slipway-agent', containerPath: '/slipway/agent', readOnly: d.name !== AGENT_CONTAINER });
    }
    const steps = defs.filter((d) => d.name !== AGENT_CONTAINER);
    expect(steps.length).toBeGreaterThanOrEqual(2);
    for (const d of steps) expect(d.mountPoints!.find((m) => m.sourceVolume === 'slipway-agent')?.readOnly, d.name).toBe(true);
    // The exit records stay writable: the state volume, with the agent's part nested read-only inside it.
    for (const d of steps) expect(d.mountPoints!.find((m) => m.sourceVolume === 'slipway-state')).toEqual({ sourceVolume: 'slipway-state', containerPath: '/slipway', readOnly: false });
  });

  it('mounts each step container\'s exit records writable in that container and the agent only, read-only in the other steps', () => {
    const s = stage(pipeline(step('test', ['make']) + step('deploy', ['./deploy'])));
    const defs = s.taskDefinition.containerDefinitions!;
    const steps = defs.filter((d) => d.name !== AGENT_CONTAINER).map((d) => d.name!);
    expect(steps.length).toBeGreaterThanOrEqual(2);
    for (const d of defs) {
      const records = d.mountPoints!.filter((m) => m.sourceVolume!.startsWith(STEP_RECORD_VOLUME_PREFIX));
      expect(records.map((m) => m.sourceVolume).sort(), d.name).toEqual(steps.map(stepRecordVolume).sort());
      for (const c of steps) {
        const writable = d.name === AGENT_CONTAINER || d.name === c;
        expect(records.find((m) => m.sourceVolume === stepRecordVolume(c))?.readOnly, `${c}'s records in ${d.name}`).toBe(!writable);
      }
    }
  });

  it('a pipeline volume named like a step\'s record volume is another volume: no step can mount another\'s exit records writable', () => {
    const target = stepRecordVolume('deploy');
    const s = stage(
      pipeline(
        step('test', ['make'], `    volumes:\n      - name: ${target}\n        path: /records\n`) + step('deploy', ['./deploy']),
        `volumes:\n  - name: ${target}\n    temp: {}\n`,
      ),
    );
    const names = s.taskDefinition.volumes!.map((v) => v.name);
    expect(new Set(names).size, names.join(', ')).toBe(names.length);
    const test = s.taskDefinition.containerDefinitions!.find((d) => d.name === 'test')!;
    const own = test.mountPoints!.find((m) => m.containerPath === '/records')!;
    expect(own.sourceVolume).not.toBe(target);
    expect(test.mountPoints!.find((m) => m.sourceVolume === target)?.readOnly).toBe(true);
  });

  it('has one essential agent with a READY_FILE health check and the plan in its environment', () => {
    const s = stage(pipeline(step('test', ['make'])));
    const defs = s.taskDefinition.containerDefinitions!;
    expect(defs.filter((d) => d.essential).map((d) => d.name)).toEqual([AGENT_CONTAINER]);
    const agent = defs[0]!;
    expect(agent.healthCheck!.command).toEqual(['CMD-SHELL', 'test -f /slipway/agent/ready']);
    const plan = JSON.parse(agent.environment!.find((e) => e.name === AGENT_ENV.plan)!.value!) as AgentPlan;
    expect(plan).toEqual(s.plan);
    expect(plan.steps[0]).toMatchObject({ container: 'test', steps: ['test'], dependsOn: [], afterSetup: true });
    for (const d of defs) {
      expect(d.mountPoints!.map((m) => m.sourceVolume)).toEqual(expect.arrayContaining(['workspace', 'slipway-state']));
    }
  });

  // Non-blocking awslogs drops lines once its ring buffer is full (shim-loggers-for-containerd
  // README: max-buffer-size, 1m by default): the agent's SLIPWAY_RESULT line must never be one.
  it('logs the agent in blocking mode (its result line is never dropped); others non-blocking with a 25 MiB buffer', () => {
    const s = stage(pipeline(step('test', ['make']) + step('notify', ['x'], '    when:\n      status: [failure]\n'), 'services:\n- name: db\n  image: redis\n'));
    const byName = Object.fromEntries(s.taskDefinition.containerDefinitions!.map((d) => [d.name!, d.logConfiguration!]));
    expect(byName[AGENT_CONTAINER]).toEqual({
      logDriver: 'awslogs',
      options: { 'awslogs-group': FIXTURE_OPTIONS.logGroup, 'awslogs-region': FIXTURE_OPTIONS.region, 'awslogs-stream-prefix': 'slipway', mode: 'blocking' },
    });
    for (const name of ['db', 'test', 'notify']) {
      expect(byName[name]?.options).toMatchObject({ mode: 'non-blocking', 'max-buffer-size': '25m' });
    }
  });

  it('makes user names ECS-safe and unique, and keeps the mapping in the plan', () => {
    const s = stage(pipeline(step('"build app"', ['a']) + step('build-app', ['b']) + step('slipway-agent', ['c'])));
    expect(s.plan.steps.map((p) => [p.container, p.steps[0]])).toEqual([
      ['build-app', 'build app'],
      ['build-app-2', 'build-app'],
      ['slipway-agent-2', 'slipway-agent'],
    ]);
    const names = new NameAllocator();
    expect([names.allocate('A', 'x'), names.allocate('a', 'x'), names.allocate('!!', 'step')]).toEqual(['A', 'a-2', 'step']);
    expect(ecsSafeName('x'.repeat(300), 'y')).toHaveLength(255);
  });

  it('puts from_secret in secrets as SSM ARNs, never in environment or overrides', () => {
    const yaml = pipeline(step('deploy', ['./deploy'], '    environment:\n      TOKEN:\n        from_secret: deploy_token\n'));
    const s = stage(yaml);
    const def = s.taskDefinition.containerDefinitions!.find((d) => d.name === 'deploy')!;
    expect(def.secrets).toEqual([{ name: 'TOKEN', valueFrom: 'arn:aws:ssm:eu-west-1:123456789012:parameter/slipway/acme/app/deploy_token' }]);
    expect(def.environment!.map((e) => e.name)).not.toContain('TOKEN');
    expect(def.command![0]).toContain('slipway_mask');
    const fork = stage(yaml, cliContext({ repo: 'acme/app', event: 'pull_request', fork: true }));
    const forkDef = fork.taskDefinition.containerDefinitions!.find((d) => d.name === 'deploy')!;
    expect(forkDef.secrets).toBeUndefined();
    expect(fork.notes.join()).toContain('deploy_token');
    // Without an account id the parameter is named, which ECS accepts in the same region.
    const { accountId: _, ...noAccount } = FIXTURE_OPTIONS;
    const named = compileYaml(yaml, push, noAccount).stages[0]!.taskDefinition.containerDefinitions!.find((d) => d.name === 'deploy')!;
    expect(named.secrets![0]!.valueFrom).toBe('/slipway/acme/app/deploy_token');
  });

  it("refuses a service whose entrypoint is in Slipway's state directory (it could pass for the plugin launcher)", () => {
    const services = (entrypoint: string) =>
      `\nservices:\n  - name: m\n    image: plugins/manifest\n    entrypoint: [${entrypoint}, sh, -c]\n    command: ['cat x', n, /bin/drone-manifest]\n`;
    expect(() => compileYaml(pipeline(step('a', ['x']), services(STATE_BUSYBOX)))).toThrow(/service "m": entrypoint \/slipway\/agent\/bin\/busybox is in \/slipway, Slipway's own directory/);
    // Any other program is the service's own.
    expect(stage(pipeline(step('a', ['x']), services('/bin/busybox'))).taskDefinition.containerDefinitions!.find((d) => d.image === 'plugins/manifest')!.entryPoint).toEqual(['/bin/busybox', 'sh', '-c']);
  });

  it("refuses a step or service of the image builder's own image (local mode's builder launch carries push rights); an image build step still becomes one", () => {
    const own = (kind: string) => `\n${kind}:\n  - name: b\n    image: ${DEFAULT_IMAGE_BUILDER}\n    shell: /busybox/sh\n    commands: ['cat x']\n`;
    expect(() => compileYaml(`kind: pipeline\ntype: docker\nname: p\nsteps:${own('').slice(2)}`)).toThrow(/"b": image ghcr\.io\/osscontainertools\/kaniko:v1\.28\.5-debug is Slipway's image builder/);
    expect(() => compileYaml(pipeline(step('a', ['x']), own('services')))).toThrow(/Slipway's image builder/);
    // Another builder named by the deployment is the one refused.
    expect(() => compileYaml(pipeline(step('a', ['x'])).replace('alpine:3.20', 'registry.example.com/kaniko:1'), push, { ...FIXTURE_OPTIONS, imageBuilds: { builderImage: 'registry.example.com/kaniko:1' } })).toThrow(/registry\.example\.com\/kaniko:1 is Slipway's image builder/);
    const build = stage(pipeline('  - name: publish\n    image: plugins/docker\n    settings:\n      repo: acme/app\n      dry_run: true\n'));
    expect(build.taskDefinition.containerDefinitions!.find((c) => c.name === 'publish')!.image).toBe(DEFAULT_IMAGE_BUILDER);
  });

  it('maps arch to the runtime platform', () => {
    expect(stage(pipeline(step('a', ['x']), 'platform:\n  arch: arm64\n')).taskDefinition.runtimePlatform).toEqual({ cpuArchitecture: 'ARM64', operatingSystemFamily: 'LINUX' });
    expect(stage(pipeline(step('a', ['x']))).taskDefinition.runtimePlatform!.cpuArchitecture).toBe('X86_64');
  });
});

describe('fargate sizes', () => {
  it.each([
    [256, 512, '256', '512'],
    [256, 3000, '512', '3072'],
    [1000, 100, '1024', '2048'],
    [1024, 9000, '2048', '9216'],
    [4096, 31000, '8192', '32768'],
    [8192, 61440, '8192', '61440'],
    [16384, 122880, '16384', '122880'],
  ])('%i units, %i MiB → %s/%s', (cpu, memory, c, m) => {
    expect(fargateSize(cpu, memory)).toEqual({ cpu: c, memory: m });
  });
  it('says when nothing fits', () => {
    expect(fargateSize(32768, 1024)).toEqual({ error: expect.stringContaining('16384') });
  });
});

describe('limits', () => {
  it('packs consecutive steps that share an image and says so', () => {
    const steps = Array.from({ length: 12 }, (_, i) => step(`s${i}`, [`echo ${i}`])).join('');
    const s = stage(pipeline(steps));
    expect(s.taskDefinition.containerDefinitions).toHaveLength(10);
    const packed = s.plan.steps.filter((p) => p.steps.length > 1);
    expect(packed).toEqual([expect.objectContaining({ container: 's0', steps: ['s0', 's1', 's2', 's3'] })]);
    expect(s.plan.steps.flatMap((p) => p.steps)).toHaveLength(12);
    expect(s.notes[0]).toContain('share one container');
  });

  it('refuses what cannot be packed, naming the count', () => {
    const steps = Array.from({ length: 10 }, (_, i) => `  - name: s${i}\n    image: img${i}\n    commands: [x]\n`).join('');
    // Lint counts the same way and says so before any build…
    const manifest = loadManifest('.drone.yml', pipeline(steps));
    expect(manifest.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message)).toEqual([expect.stringMatching(/^steps: too many containers: pipeline "p" needs 11 containers .* ECS allows 10/)]);
    // …and the compiler refuses it too.
    expect(() => compilePipeline(manifest.pipelines[0]!, push, FIXTURE_OPTIONS)).toThrow(CompileError);
    expect(() => compilePipeline(manifest.pipelines[0]!, push, FIXTURE_OPTIONS)).toThrow(/needs 11 containers .* ECS allows 10/);
  });
});

describe('conditions', () => {
  it('skips pipelines by trigger and steps by when, with reasons', () => {
    const yaml = `${pipeline(step('a', ['x']) + step('b', ['y'], '    when:\n      branch: [release/*]\n'))}\n---\n${pipeline(step('c', ['z']), 'trigger:\n  event: [tag]\n').replace('name: p', 'name: q')}`;
    const r = compileYaml(yaml);
    expect(r.stages.map((s) => s.name)).toEqual(['p']);
    expect(r.skipped).toEqual([{ name: 'q', reason: 'trigger: event "push" is not included in [tag]' }]);
    expect(r.stages[0]!.skippedSteps).toEqual([{ name: 'b', reason: 'when: branch "main" is not included in [release/*]' }]);
    expect(r.stages[0]!.plan.steps.map((p) => p.container)).toEqual(['a']);
  });
});

describe('compilePipeline without a manifest', () => {
  it('compiles a Pipeline object', () => {
    const manifest = loadManifest('.drone.yml', pipeline(step('a', ['x'])));
    const s = compilePipeline(manifest.pipelines[0]!, push, FIXTURE_OPTIONS);
    expect(s.name).toBe('p');
    // The autoscaler picks capacity (a capacityProviderStrategy); ECS rejects both together.
    expect(s.runTask).not.toHaveProperty('launchType');
    expect(s.runTask.capacityProviderStrategy).toBeUndefined();
    expect(s.runTask.networkConfiguration!.awsvpcConfiguration!.subnets).toEqual(['subnet-1']);
  });

  it("writes core's own task shapes, which the AWS SDK's commands take as they are (no SDK in core/)", () => {
    const manifest = loadManifest('.drone.yml', pipeline(step('a', ['x'])));
    const s = compilePipeline(manifest.pipelines[0]!, push, FIXTURE_OPTIONS);
    // Type-checked: the plain shapes are assignable to the SDK's inputs.
    const register = new RegisterTaskDefinitionCommand(s.taskDefinition);
    const input: RunTaskCommandInput = s.runTask;
    const run = new RunTaskCommand(input);
    expect(register.input.family).toBe(s.taskDefinition.family);
    expect(run.input.taskDefinition).toBe(s.taskDefinition.family);
  });
});

describe('the plan tells the agent what ECS was told', () => {
  it('gives each step the condition of each of its dependencies: ECS holds a status step, the wrapper of a plain step with commands', () => {
    const s = stage(pipeline(step('build', ['x']) + step('test', ['y'], '    failure: ignore\n') + step('alert', ['z'], '    when:\n      status: [failure]\n') + step('publish', ['p'])));
    const defs = s.taskDefinition.containerDefinitions!;
    for (const p of s.plan.steps) {
      const def = defs.find((d) => d.name === p.container)!;
      expect(Object.keys(p.dependsOnConditions!)).toEqual(p.dependsOn);
      if (p.afterSetup) {
        // Its wrapper waits with the same conditions; ECS holds it only until the steps before it
        // that start with the task have started (START), so its image pulls once they have.
        const startsWithTask = (c: string) => defs.find((d) => d.name === c)!.dependsOn?.every((d) => d.condition === 'START' && d.containerName !== AGENT_CONTAINER) ?? true;
        const expected = Object.keys(p.dependsOnConditions!).filter((c) => s.plan.steps.find((q) => q.container === c)!.afterSetup && startsWithTask(c));
        expect((def.dependsOn ?? []).map((d) => [d.containerName, d.condition]).sort(), p.container).toEqual(expected.map((c) => [c, 'START']).sort());
        for (const [container, condition] of Object.entries(p.dependsOnConditions!)) expect(def.command![0]).toContain(`slipway_up '${container}' ${condition} wrapped;`);
      } else {
        expect(p.dependsOnConditions).toEqual(Object.fromEntries((def.dependsOn ?? []).map((d) => [d.containerName, d.condition])));
      }
    }
    // A step that runs on a status depends in ECS only on what is certain to happen (the agent
    // started, even when its clone fails); its wrapper waits for the rest.
    expect(s.plan.steps.find((p) => p.container === 'alert')!.dependsOnConditions).toEqual({ [AGENT_CONTAINER]: 'START' });
    // The agent decides with the conditions ECS held before: the same verdicts and reasons.
    expect(s.plan.steps.find((p) => p.container === 'publish')!.dependsOnConditions).toEqual({ alert: 'COMPLETE', test: 'COMPLETE', build: 'SUCCESS' });
    expect(s.plan.steps.find((p) => p.container === 'test')!.dependsOnConditions).toEqual({ build: 'SUCCESS' });
    // A plain step with commands starts with the task: its wrapper waits for the agent's setup.
    expect(s.plan.steps.find((p) => p.container === 'build')!.dependsOnConditions).toEqual({});
    expect(s.plan.steps.map((p) => [p.container, p.afterSetup])).toEqual([['build', true], ['test', true], ['alert', undefined], ['publish', true]]);
    // In ECS: the first step nothing; a later one START on the steps before it that start with
    // the task, never on the status step (ECS may never start it).
    const ecs = Object.fromEntries(defs.map((d) => [d.name, d.dependsOn?.map((x) => `${x.containerName}:${x.condition}`)]));
    expect(ecs).toMatchObject({ build: undefined, test: ['build:START'], publish: ['test:START', 'build:START'] });
  });

  // A START names only a container that starts with the task: one whose own dependsOn holds
  // nothing but such STARTs (never a health, an exit or a record), so none can wait forever for
  // another (API_ContainerDependency: START is met once the container has started).
  it('never names in a START a container that ECS might not start: every golden task definition, no cycle', () => {
    const dir = new URL('../fixtures/', import.meta.url);
    const files = ['compile', 'compile-split'].flatMap((d) =>
      (spawnSync('ls', [new URL(d, dir).pathname], { encoding: 'utf8' }).stdout.split('\n').filter((f) => f.endsWith('.json')).map((f) => new URL(`${d}/${f}`, dir).pathname)),
    );
    let starts = 0;
    for (const file of files) {
      const defsOf: unknown[] = [];
      const walk = (o: unknown): void => {
        if (!o || typeof o !== 'object') return;
        if (Array.isArray((o as { containerDefinitions?: unknown }).containerDefinitions)) defsOf.push((o as { containerDefinitions: unknown }).containerDefinitions);
        else for (const v of Object.values(o)) walk(v);
      };
      walk(JSON.parse(readFileSync(file, 'utf8')));
      for (const defs of defsOf as { name: string; dependsOn?: { containerName: string; condition: string }[] }[][]) {
        const byName = new Map(defs.map((d) => [d.name, d]));
        const planJson = (byName.get(AGENT_CONTAINER) as { environment?: { name: string; value: string }[] } | undefined)?.environment?.find((e) => e.name === AGENT_ENV.plan)?.value;
        const wrapped = new Set(((JSON.parse(planJson ?? '{"steps":[]}') as AgentPlan).steps ?? []).filter((p) => p.afterSetup === true).map((p) => p.container));
        // Starts with the task: nothing to wait for, or only STARTs on steps that do (depth-first, a cycle fails).
        const seen = new Set<string>();
        const startsWithTask = (name: string): boolean => {
          if (seen.has(name)) return false;
          seen.add(name);
          const ok = (byName.get(name)!.dependsOn ?? []).every((d) => d.condition === 'START' && d.containerName !== AGENT_CONTAINER && startsWithTask(d.containerName));
          seen.delete(name);
          return ok;
        };
        for (const d of defs) {
          for (const dep of d.dependsOn ?? []) {
            if (dep.condition !== 'START' || dep.containerName === AGENT_CONTAINER) continue;
            // A detached plugin (no wrapper to mark its start) is the one START kept from before, in ECS's order.
            if (wrapped.has(dep.containerName)) {
              starts += 1;
              expect(startsWithTask(dep.containerName), `${file}: ${d.name} START ${dep.containerName}`).toBe(true);
            }
          }
        }
      }
    }
    expect(starts).toBeGreaterThan(20);
  });

  it('gives a later step no START on a plugin kept in ECS\'s order, so a plugin ECS never starts (its upstream failed) does not hold it', () => {
    const s = stage(pipeline(step('build', ['make']) + '  - name: publish\n    image: plugins/s3\n    depends_on: [build]\n    settings:\n      bucket: b\n' + step('notify', ['./notify'], '    depends_on: [publish]\n') + step('report', ['./report'], '    depends_on: [build, publish]\n')));
    const deps = Object.fromEntries(s.taskDefinition.containerDefinitions!.map((c) => [c.name, c.dependsOn?.map((d) => `${d.containerName}:${d.condition}`)]));
    expect(deps['publish']).toEqual(['slipway-agent:HEALTHY', 'build:SUCCESS']);
    // notify starts with the task and waits for publish's record in its wrapper; so does report:
    // publish starts on build's SUCCESS, so build is named in no START (it would stay up for
    // report, holding publish back by report's pull).
    expect(deps['notify']).toBeUndefined();
    expect(deps['report']).toBeUndefined();
    expect(s.taskDefinition.containerDefinitions!.find((c) => c.name === 'build')!.command![0]).not.toContain('.up"');
    expect(s.plan.steps.find((p) => p.container === 'report')!.dependsOnConditions).toEqual({ build: 'SUCCESS', publish: 'SUCCESS' });
  });

  it("a pipeline whose START ordering would take it past ECS's 64 KiB is compiled without it, saying so (its later images pull with the task)", () => {
    // A corpus file just under the limit without the START ordering's markers and waits.
    const s = stage(readFileSync(new URL('../fixtures/corpus/drone__drone-cli.yml', import.meta.url), 'utf8'));
    const starts = s.taskDefinition.containerDefinitions!.flatMap((c) => (c.dependsOn ?? []).filter((d) => d.condition === 'START').map((d) => `${c.name}:${d.containerName}`));
    expect(starts).toEqual([]);
    expect(s.notes.some((n) => n.includes("its later steps' images pull with the task") && n.includes('65536 bytes'))).toBe(true);
    expect(JSON.stringify(s.taskDefinition).length).toBeLessThanOrEqual(65536);
  });

  it("a step named in an ECS START stays up for exactly the containers that name it and write its .up, never for a plugin (aws/amazon-ecs-agent 51e94bfbe)", () => {
    const s = stage(
      pipeline(
        step('server', ['serve'], '    detach: true\n') +
          step('build', ['make']) +
          step('test', ['make test'], '    depends_on: [build]\n') +
          '  - name: mock\n    image: plugins/mock\n    depends_on: [server]\n' +
          '  - name: alert\n    image: plugins/slack\n    depends_on: [server]\n    when:\n      status: [failure]\n',
      ),
    );
    const defs = Object.fromEntries(s.taskDefinition.containerDefinitions!.map((c) => [c.name, c]));
    const starts = (name: string) => (defs[name]!.dependsOn ?? []).filter((d) => d.condition === 'START').map((d) => d.containerName);
    // The names each container waits for after its commands (script.ts, lingerLines).
    const lingersFor = (name: string) => [...(defs[name]!.command?.[0] ?? '').matchAll(/until \[ -f '([^/']+)\/\1\.up' \]/g)].map((m) => m[1]).join(',') || undefined;
    // test names build (a START its wrapper marks); the plugin mock names server but writes no marker: server does not wait for it.
    expect(starts('test')).toContain('build');
    expect(starts('mock')).toContain('server');
    expect(lingersFor('build')).toBe('test');
    // Its first look of the setup wait writes its marker, before anything else.
    expect(defs['test']!.command![0]).toMatch(/^# slipway: test[^\n]*\nslipway_state=[^\n]*\nslipway_record\(\) \{[\s\S]*?\nuntil \{ mkdir -p "\$slipway_state\/steps\/test"; true >"\$slipway_state\/steps\/test\/test\.up"; \} 2>\/dev\/null; \[ -s /);
    expect(defs['mock']!.command?.join(' ') ?? '').not.toContain('.up"');
    // A status plugin's gate starts with the agent and waits for server in its script: no START on server, so server waits for no one.
    const gate = Object.values(defs).find((c) => c.name !== 'alert' && (c.command?.[0] ?? '').includes('status gate of alert'))!;
    expect(starts(gate.name)).toEqual(['slipway-agent']);
    expect(lingersFor('server')).toBeUndefined();
    expect(lingersFor('test')).toBeUndefined();
  });

  it('keeps in ECS only what a wrapper cannot wait for: a detached step\'s health, a detached plugin\'s start; plugin steps keep their order', () => {
    const s = stage(
      pipeline(
        step('server', ['serve'], '    detach: true\n    ready:\n      command: curl -f localhost:8080\n') +
          step('e2e', ['npm run e2e']) +
          '  - name: mock\n    image: plugins/mock\n    detach: true\n' +
          step('smoke', ['npm run smoke']) +
          '  - name: publish\n    image: plugins/s3\n    settings:\n      bucket: b\n',
      ),
    );
    const deps = Object.fromEntries(s.taskDefinition.containerDefinitions!.map((c) => [c.name, c.dependsOn]));
    // The detached step with a health check keeps ECS's order: its health is timed from its start.
    expect(deps['server']).toBeUndefined();
    expect(deps['e2e']).toEqual([{ containerName: 'server', condition: 'HEALTHY' }]);
    expect(deps['mock']).toEqual([{ containerName: 'slipway-agent', condition: 'HEALTHY' }, { containerName: 'e2e', condition: 'SUCCESS' }]);
    // START on a plugin (no wrapper marks its start) stays in ECS; the rest moves to the wrapper.
    expect(deps['smoke']).toEqual([{ containerName: 'mock', condition: 'START' }]);
    const smoke = s.taskDefinition.containerDefinitions!.find((c) => c.name === 'smoke')!;
    expect(smoke.command![0]).toContain("slipway_up 'e2e' SUCCESS wrapped;");
    expect(smoke.command![0]).not.toContain("slipway_up 'mock'");
    // A plugin step keeps ECS's order behind the steps before it.
    expect(deps['publish']).toEqual([{ containerName: 'slipway-agent', condition: 'HEALTHY' }, { containerName: 'smoke', condition: 'SUCCESS' }]);
  });

  it('starts a plain step with commands with the task, so ECS pulls its image at once (ECS agent graph.go pulls only resolved containers)', () => {
    const s = stage(pipeline(step('test', ['npm test']), 'services:\n- name: db\n  image: postgres:16\n  ready:\n    command: pg_isready\n'));
    const test = s.taskDefinition.containerDefinitions!.find((d) => d.name === 'test')!;
    expect(test.dependsOn).toBeUndefined();
    expect(test.command![0]).toContain('until [ -s "$slipway_state/agent/setup.exit" ]');
    expect(test.command![0]).toContain('exit 79');
  });

  it('clones shallow by default (depth 1); clone.depth 0 asks for the full history, any other depth is kept', () => {
    expect(stage(pipeline(step('a', ['x']))).plan.clone.depth).toBe(1);
    expect(stage(pipeline(step('a', ['x']), 'clone:\n  depth: 0\n')).plan.clone.depth).toBe(0);
    expect(stage(pipeline(step('a', ['x']), 'clone:\n  depth: 50\n')).plan.clone.depth).toBe(50);
  });

  it('keeps ECS HEALTHY on the agent (and healthy services) for plugin steps, first or later', () => {
    const s = stage(pipeline(step('build', ['x']) + '  - name: publish\n    image: plugins/s3\n', 'services:\n- name: db\n  image: postgres:16\n  ready:\n    command: pg_isready\n'));
    const defs = Object.fromEntries(s.taskDefinition.containerDefinitions!.map((d) => [d.name, d.dependsOn]));
    expect(defs['publish']).toEqual([{ containerName: AGENT_CONTAINER, condition: 'HEALTHY' }, { containerName: 'build', condition: 'SUCCESS' }]);
    const first = stage(pipeline('  - name: publish\n    image: plugins/s3\n', 'services:\n- name: db\n  image: postgres:16\n  ready:\n    command: pg_isready\n'));
    expect(first.taskDefinition.containerDefinitions!.find((d) => d.name === 'publish')!.dependsOn).toEqual([
      { containerName: AGENT_CONTAINER, condition: 'HEALTHY' },
      { containerName: 'db', condition: 'HEALTHY' },
    ]);
  });

  it('a plugin step behind a gate waits for the gate with SUCCESS', () => {
    const s = stage(pipeline(step('test', ['x']) + '  - name: slack\n    image: plugins/slack\n    when:\n      status: [failure]\n'));
    expect(s.plan.steps.find((p) => p.container === 'slack')!.dependsOnConditions).toEqual({ 'slack-gate': 'SUCCESS' });
  });

  it('gives the stage its position in the file and its depends_on as written', () => {
    const yaml = `${pipeline(step('a', ['x']))}\n---\n${pipeline(step('b', ['y']), 'depends_on: [p]\n').replace('name: p', 'name: q')}`;
    const r = compileYaml(yaml);
    expect(r.stages.map((s) => s.plan.stage)).toEqual([{ number: 1, dependsOn: [] }, { number: 2, dependsOn: ['p'] }]);
  });
});

describe('pipeline depends_on through pipelines left out by their trigger', () => {
  const named = (name: string, extra: string) => pipeline(step(`${name}-step`, ['x']), extra).replace('name: p', `name: ${name}`);
  it('inherits the skipped pipeline\'s own dependencies, transitively', () => {
    const yaml = [
      named('build', ''),
      named('docs', 'depends_on: [build]\ntrigger:\n  event: [tag]\n'),
      named('lint', 'depends_on: [docs]\ntrigger:\n  event: [tag]\n'),
      named('deploy', 'depends_on: [lint, build]\n'),
    ].join('\n---\n');
    const r = compileYaml(yaml);
    expect(r.skipped.map((s) => s.name)).toEqual(['docs', 'lint']);
    expect(r.stages.map((s) => [s.name, s.dependsOn])).toEqual([
      ['build', []],
      ['deploy', ['build']],
    ]);
    expect(r.stages[1]!.notes).toContainEqual(
      'depends_on: "lint" is skipped (trigger: event "push" is not included in [tag]); waits for what it waits for: "build" — a skipped pipeline is dropped from the graph, as in Drone',
    );
  });
});

// drone/drone trigger/trigger.go + dag.go: the same rule for a pipeline Slipway skips for its
// runner type or its platform (before: an error, "would never start", on 9 corpus pipelines).
describe('pipeline depends_on through pipelines of another runner or platform', () => {
  const named = (name: string, extra: string) => pipeline(step(`${name}-step`, ['x']), extra).replace('name: p', `name: ${name}`);
  const arm = (name: string, extra = '') => named(name, `platform: { arch: arm }\n${extra}`);
  it('a notification after amd64, arm64 and 32-bit arm waits for the two that run, and says why not the third', () => {
    const yaml = [
      named('linux-amd64', ''),
      named('linux-arm64', 'platform: { arch: arm64 }\n'),
      arm('linux-arm'),
      named('notifications', 'depends_on: [linux-amd64, linux-arm64, linux-arm]\ntrigger:\n  status: [success, failure]\n'),
    ].join('\n---\n');
    const r = compileYaml(yaml);
    expect(r.errors).toEqual([]);
    expect(r.skipped).toEqual([{ name: 'linux-arm', reason: 'platform arch "arm" runs on another runner: Fargate runs amd64 and arm64 (Fargate has no 32-bit ARM)' }]);
    const notify = r.stages.find((s) => s.name === 'notifications')!;
    expect(notify.dependsOn).toEqual(['linux-amd64', 'linux-arm64']);
    expect(notify.notes).toContainEqual(
      'depends_on: "linux-arm" is skipped (platform arch "arm" runs on another runner: Fargate runs amd64 and arm64 (Fargate has no 32-bit ARM)) — a skipped pipeline is dropped from the graph, as in Drone',
    );
  });

  it("inherits a skipped pipeline's own depends_on, through a chain of them, into running and errored stages alike", () => {
    const yaml = [
      named('build', ''),
      arm('arm', 'depends_on: [build]\n'),
      named('mac', 'depends_on: [arm]\n').replace('type: docker', 'type: exec'),
      named('manifest', 'depends_on: [mac]\n'),
      named('broken', 'depends_on: [mac]\n').replace('commands:', 'privileged: true\n    commands:'),
    ].join('\n---\n');
    // "broken" has an error of its own (privileged): compiled as a build compiles it.
    const r = compileManifest(loadManifest('.drone.yml', yaml), push, FIXTURE_OPTIONS);
    expect(r.stages.map((s) => [s.name, s.dependsOn])).toEqual([
      ['build', []],
      ['manifest', ['build']],
    ]);
    expect(r.errors.map((e) => [e.name, e.dependsOn])).toEqual([['broken', ['build']]]);
    expect(r.stages[1]!.notes).toContainEqual('depends_on: "mac" is skipped (type "exec" runs on another runner); waits for what it waits for: "build" — a skipped pipeline is dropped from the graph, as in Drone');
  });

  it('with every dependency skipped, the stage waits for nothing and its note says it starts with the build', () => {
    const r = compileYaml([arm('linux-arm'), named('manifest', 'depends_on: [linux-arm]\n')].join('\n---\n'));
    expect(r.stages.map((s) => [s.name, s.dependsOn])).toEqual([['manifest', []]]);
    expect(r.stages[0]!.notes.at(-1)).toMatch(/; with nothing left to wait for, this stage starts with the build$/);
  });
});

describe('per-run overrides fit RunTask whatever the commit message', () => {
  const plugins = ['a', 'b', 'c'].map((n) => `  - name: ${n}\n    image: plugins/slack\n    settings:\n      channel: ci\n`).join('');
  const withMessage = (message: string, title?: string) => {
    const ctx = cliContext({ repo: 'acme/app', commit: 'a'.repeat(40), ...(title ? { event: 'pull_request' } : {}) });
    return { ...ctx, commit: { ...ctx.commit, message }, ...(title ? { pullRequest: { ...ctx.pullRequest!, title } } : {}) };
  };

  it.each([1_000, 100 * 1024])('three plugins and a %i-character message compile, cut with a marker', (length) => {
    const message = `Fix the thing\n\n${'long "quoted" line\n'.repeat(length / 19 + 1)}`.slice(0, length);
    const s = stage(pipeline(step('build', ['x']) + plugins), withMessage(message));
    const overrides = s.runTask.overrides!;
    expect(JSON.stringify(overrides).length).toBeLessThanOrEqual(MAX_OVERRIDE_CHARS - UPSTREAM_RESERVE);
    const agent = overrides.containerOverrides!.find((o) => o.name === AGENT_CONTAINER)!;
    const sent = (JSON.parse(agent.environment!.find((e) => e.name === AGENT_ENV.build)!.value!) as typeof push).commit.message;
    expect(sent.endsWith(TRUNCATION_MARKER)).toBe(true);
    expect(message.startsWith(sent.slice(0, -TRUNCATION_MARKER.length))).toBe(true);
    // The agent (and so script steps) and every plugin see the same text.
    for (const name of ['a', 'b', 'c']) {
      const env = overrides.containerOverrides!.find((o) => o.name === name)!.environment!;
      expect(env.find((e) => e.name === 'DRONE_COMMIT_MESSAGE')!.value).toBe(sent);
    }
    expect(s.notes.join('\n')).toMatch(/commit message \(\d+ characters\) was cut to \d+ characters/);
  });

  it('leaves a message that fits untouched, and cuts a long PR title too', () => {
    const s = stage(pipeline(step('build', ['x']) + plugins), withMessage('short message'));
    expect(s.notes.join()).not.toContain('cut to');
    const a = s.runTask.overrides!.containerOverrides!.find((o) => o.name === 'a')!;
    expect(a.environment!.find((e) => e.name === 'DRONE_COMMIT_MESSAGE')!.value).toBe('short message');
    const pr = stage(pipeline(step('build', ['x']) + plugins), withMessage('m', 't'.repeat(20_000)));
    expect(JSON.stringify(pr.runTask.overrides).length).toBeLessThanOrEqual(MAX_OVERRIDE_CHARS - UPSTREAM_RESERVE);
    const title = pr.runTask.overrides!.containerOverrides!.find((o) => o.name === 'a')!.environment!.find((e) => e.name === 'DRONE_PULL_REQUEST_TITLE')!.value!;
    expect(title.endsWith(TRUNCATION_MARKER)).toBe(true);
  });
});

describe("a step's environment wins over the per-run env file", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'slipway-env-'));
    mkdirSync(join(dir, 'state', 'agent'), { recursive: true });
    mkdirSync(join(dir, 'ws'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('runs the compiled script with the container environment and an env file setting CI=true', () => {
    const s = stage(pipeline(step('test', ['echo "CI=$CI GLOBAL=$GLOBAL BRANCH=$DRONE_BRANCH"'], '    environment:\n      CI: "false"\n'), 'environment:\n  GLOBAL: mine\n'));
    const def = s.taskDefinition.containerDefinitions!.find((d) => d.name === 'test')!;
    writeFileSync(join(dir, 'state', 'agent', 'env'), "export CI='true'\nexport GLOBAL='theirs'\nexport DRONE_BRANCH='main'\n");
    writeFileSync(join(dir, 'state', 'agent', 'setup.exit'), '0\n');
    const env = Object.fromEntries(def.environment!.map((e) => [e.name!, e.value!]));
    const result = spawnSync(def.entryPoint![0]!, [def.entryPoint![1]!, def.command![0]!], {
      env: { PATH: process.env.PATH, ...env, SLIPWAY_STATE_DIR: join(dir, 'state'), SLIPWAY_WORKSPACE: join(dir, 'ws') },
      encoding: 'utf8',
      timeout: HANG_GUARD_MS,
    });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('CI=false GLOBAL=mine BRANCH=main\n');
  });

  it('skips a plain step after a failed setup: the skip marker, exit 79, and none of its commands', () => {
    const s = stage(pipeline(step('test', ['echo RAN'])));
    const def = s.taskDefinition.containerDefinitions!.find((d) => d.name === 'test')!;
    writeFileSync(join(dir, 'state', 'agent', 'setup.exit'), '5\n');
    const result = spawnSync(def.entryPoint![0]!, [def.entryPoint![1]!, def.command![0]!], {
      env: { PATH: process.env.PATH, SLIPWAY_STATE_DIR: join(dir, 'state'), SLIPWAY_WORKSPACE: join(dir, 'ws') },
      encoding: 'utf8',
      timeout: HANG_GUARD_MS,
    });
    expect(result.status).toBe(79);
    expect(result.stdout).not.toContain('RAN');
    expect(result.stdout).toContain('slipway: skipping test: the clone or a service failed (setup record 5)');
    expect(existsSync(join(dir, 'state', 'steps', 'test', 'test.skipped'))).toBe(true);
    expect(readFileSync(join(dir, 'state', 'steps', 'test', 'test.exit'), 'utf8')).toBe('79\n');
  });
});

describe('secrets are scoped to the repository', () => {
  const withDoc = (path: string) =>
    `${pipeline(step('deploy', ['./deploy'], '    environment:\n      KEY:\n        from_secret: deploy_key\n'))}\n---\nkind: secret\nname: deploy_key\nget:\n  path: ${path}\n`;

  it('accepts a secret document under the repository\'s own prefix', () => {
    const def = stage(withDoc('/slipway/acme/app/deploy')).taskDefinition.containerDefinitions!.find((d) => d.name === 'deploy')!;
    expect(def.secrets).toEqual([{ name: 'KEY', valueFrom: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:/slipway/acme/app/deploy' }]);
  });

  it.each(['/slipway/victim/repo/DEPLOY_KEY', '/slipway/acme/app', '/slipway/acme/app/', '/slipway/acme/application/x', 'slipway/acme/app/x', '/slipway/acme/app/../../victim/repo/x', 'arn:aws:secretsmanager:eu-west-1:1:secret:/slipway/acme/app/x',
    // A nested repository's secrets (GitLab subgroups: acme/app/sub is another repository), and the prefix spelt otherwise.
    '/slipway/acme/app/sub/x', '/slipway/acme/app//x', '/slipway/acme/app/./x', '/slipway/acme/app/.', '/slipway/acme/app/..', '/slipway/acme/app/x/'])(
    // Never read: the path reaches no container; the step runs with the variable unset, as Drone
    // runs a step whose secret its provider does not give the repository.
    'refuses %s at the secret document: left out of every container, with a note that says why',
    (path) => {
      const s = stage(withDoc(path));
      for (const def of s.taskDefinition.containerDefinitions!) {
        expect(JSON.stringify(def.secrets ?? [])).not.toContain('secretsmanager');
        expect(JSON.stringify(def)).not.toContain(path.replace(/\/+$/, '') || path);
      }
      const note = s.notes.find((n) => n.includes('not one of this repository\'s secrets'));
      expect(note).toContain('/slipway/acme/app/');
      expect(note).toContain('left out, its variables are unset');
      expect(note).toContain(JSON.stringify(path));
    },
  );

  it('uses the configured prefix, and rejects from_secret names that are not one path segment', () => {
    const options = { ...FIXTURE_OPTIONS, secretsPrefix: '/ci' };
    const ok = compileYaml(withDoc('/ci/acme/app/deploy'), push, options);
    expect(ok.stages).toHaveLength(1);
    expect(compileYaml(withDoc('/slipway/acme/app/deploy'), push, options).stages[0]!.notes.join('\n')).toMatch(/under \/ci\/acme\/app\/.*left out/);
    const plain = compileYaml(pipeline(step('deploy', ['x'], '    environment:\n      KEY:\n        from_secret: tok\n')), push, options);
    expect(plain.stages[0]!.taskDefinition.containerDefinitions!.find((d) => d.name === 'deploy')!.secrets![0]!.valueFrom).toContain('parameter/ci/acme/app/tok');
    const bad = loadManifest('.drone.yml', pipeline(step('deploy', ['x'], '    environment:\n      KEY:\n        from_secret: ../../victim/repo/KEY\n')));
    expect(bad.diagnostics.map((d) => d.message)).toContain('steps[0].environment.KEY.from_secret: invalid secret name: "../../victim/repo/KEY" (a repository secret\'s name is one segment of its parameter path: letters, digits, "_", "." and "-", not "." or "..")');
    expect(() => compilePipeline(bad.pipelines[0]!, push, FIXTURE_OPTIONS)).toThrow(/not a valid secret name/);
    for (const name of ['.', '..']) {
      const dots = loadManifest('.drone.yml', pipeline(step('deploy', ['x'], `    environment:\n      KEY:\n        from_secret: "${name}"\n`)));
      expect(dots.diagnostics.map((d) => d.message)).toContain(`steps[0].environment.KEY.from_secret: invalid secret name: "${name}" (a repository secret's name is one segment of its parameter path: letters, digits, "_", "." and "-", not "." or "..")`);
      expect(() => compilePipeline(dots.pipelines[0]!, push, FIXTURE_OPTIONS)).toThrow(/not a valid secret name/);
    }
  });
});

describe('task size holds its containers', () => {
  it('raises the pipeline resources to the sum of what containers ask for, and says so', () => {
    const s = stage(pipeline(step('big', ['x'], '    resources:\n      cpu: 2048\n      memory: 3000\n') + step('small', ['y'], '    resources:\n      cpu: 256\n'), 'resources:\n  cpu: 512\n  memory: 1024\n'));
    const defs = s.taskDefinition.containerDefinitions!;
    const cpu = Number(s.taskDefinition.cpu);
    const memory = Number(s.taskDefinition.memory);
    expect(cpu).toBeGreaterThanOrEqual(defs.reduce((t, d) => t + (d.cpu ?? 0), 0));
    expect(memory).toBeGreaterThanOrEqual(defs.reduce((t, d) => t + (d.memoryReservation ?? 0), 0));
    expect({ cpu: s.taskDefinition.cpu, memory: s.taskDefinition.memory }).toEqual(fargateSize(2304, 3000));
    expect(s.notes.join('\n')).toMatch(/cpu 512 → 4096 .*2304 units.*memory 1024 → 8192 MiB/);
  });

  it('keeps a pipeline size that already holds its containers, and reports one no Fargate task can hold', () => {
    const s = stage(pipeline(step('a', ['x'], '    resources:\n      cpu: 1024\n'), 'resources:\n  cpu: 2048\n  memory: 4096\n'));
    expect([s.taskDefinition.cpu, s.taskDefinition.memory]).toEqual(['2048', '4096']);
    expect(s.notes.join()).not.toContain('raised');
    const huge = pipeline(step('a', ['x'], '    resources:\n      cpu: 16384\n') + step('b', ['y'], '    resources:\n      cpu: 1024\n'));
    expect(() => compileYaml(huge)).toThrow(/resources: no Fargate size has 17408 CPU units.*together ask for 17408/);
  });

  it('resources.storage becomes ephemeralStorage; none leaves Fargate\'s 20 GiB; outside 21–200 GiB is refused even without lint', () => {
    expect(stage(pipeline(step('a', ['x']), 'resources:\n  storage: 60\n')).taskDefinition.ephemeralStorage).toEqual({ sizeInGiB: 60 });
    expect(stage(pipeline(step('a', ['x']))).taskDefinition).not.toHaveProperty('ephemeralStorage');
    // The compiler is also called on pipelines lint did not see (a caller's own Pipeline value).
    const manifest = loadManifest('.drone.yml', pipeline(step('a', ['x']), 'resources:\n  storage: 60\n'));
    const p = { ...manifest.pipelines[0]!, resources: { storage: 500 } };
    expect(() => compilePipeline(p, push, FIXTURE_OPTIONS)).toThrow(/resources\.storage is 500 GiB but ECS accepts 21 to 200 GiB/);
  });
});

describe('clone credentials (private repositories)', () => {
  const clone = {
    machine: 'git.example.com',
    username: 'oauth2',
    passwordFrom: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:slipway-scm-AbCdEf:giteaCloneToken::',
  };
  const withClone = { ...FIXTURE_OPTIONS, cloneCredentials: clone };
  const yaml = pipeline(
    step('test', ['make'], '    environment:\n      KEY:\n        from_secret: key\n') + '  - name: publish\n    image: plugins/kaniko\n    settings:\n      repo: acme/app\n    when:\n      status: [failure]\n',
    'services:\n  - name: db\n    image: postgres:15\n    ports: [5432]\n',
  );
  const netrcNames = ['DRONE_NETRC_MACHINE', 'DRONE_NETRC_USERNAME', 'DRONE_NETRC_PASSWORD'];

  it('uses the variable names the agent reads', () => {
    expect(NETRC_ENV).toEqual(AGENT_NETRC_ENV);
  });

  it('gives the agent the machine and username as environment and the password only as a secrets reference', () => {
    const s = compileYaml(yaml, push, withClone).stages[0]!;
    const agent = s.taskDefinition.containerDefinitions!.find((d) => d.name === AGENT_CONTAINER)!;
    expect(agent.environment!.filter((e) => e.name!.startsWith('DRONE_NETRC_'))).toEqual([
      { name: 'DRONE_NETRC_MACHINE', value: 'git.example.com' },
      { name: 'DRONE_NETRC_USERNAME', value: 'oauth2' },
    ]);
    expect(agent.secrets).toEqual([{ name: 'DRONE_NETRC_PASSWORD', valueFrom: clone.passwordFrom }]);
  });

  it('never reaches a step, a service, a gate or the per-run overrides', () => {
    const s = compileYaml(yaml, push, withClone).stages[0]!;
    expect(s.taskDefinition.containerDefinitions!.map((d) => d.name)).toEqual([AGENT_CONTAINER, 'db', 'test', 'publish-gate', 'publish']);
    for (const def of s.taskDefinition.containerDefinitions!.filter((d) => d.name !== AGENT_CONTAINER)) {
      const names = [...(def.environment ?? []), ...(def.secrets ?? [])].map((e) => e.name);
      expect(names.filter((n) => netrcNames.includes(n!)), def.name).toEqual([]);
      expect(JSON.stringify(def), def.name).not.toContain(clone.passwordFrom);
      expect(JSON.stringify(def), def.name).not.toContain('DRONE_NETRC');
    }
    expect(JSON.stringify(s.runTask)).not.toContain('NETRC');
    expect(JSON.stringify(s.runTask)).not.toContain('CloneToken');
  });

  it('is part of the definition: a new family, the same for every run of the repository', () => {
    const without = compileYaml(yaml).stages[0]!;
    const a = compileYaml(yaml, push, withClone).stages[0]!;
    const b = compileYaml(yaml, { ...cliContext({ repo: 'acme/app', commit: 'b'.repeat(40) }), build: { ...push.build, number: 7 } }, withClone).stages[0]!;
    expect(a.taskDefinition.family).not.toBe(without.taskDefinition.family);
    expect(b.taskDefinition).toEqual(a.taskDefinition);
    const otherUser = compileYaml(yaml, push, { ...withClone, cloneCredentials: { ...clone, username: 'ci-bot' } }).stages[0]!;
    expect(otherUser.taskDefinition.family).not.toBe(a.taskDefinition.family);
  });

  it('stays with the agent for a pull request from a fork, whose steps lose their secrets', () => {
    const fork = cliContext({ repo: 'acme/app', commit: 'a'.repeat(40), event: 'pull_request', action: 'opened', fork: true });
    const s = compileYaml(yaml, fork, withClone).stages[0]!;
    const defs = s.taskDefinition.containerDefinitions!;
    expect(defs.find((d) => d.name === AGENT_CONTAINER)!.secrets).toEqual([{ name: 'DRONE_NETRC_PASSWORD', valueFrom: clone.passwordFrom }]);
    expect(defs.filter((d) => d.name !== AGENT_CONTAINER).flatMap((d) => d.secrets ?? [])).toEqual([]);
    expect(s.notes).toContain('secrets withheld from this build (pull request from a fork): key');
  });

  it('is left out when the pipeline does not clone', () => {
    const s = compileYaml(pipeline(step('test', ['make']), 'clone:\n  disable: true\n'), push, withClone).stages[0]!;
    expect(JSON.stringify(s.taskDefinition)).not.toContain('NETRC');
    expect(s.taskDefinition).toEqual(compileYaml(pipeline(step('test', ['make']), 'clone:\n  disable: true\n')).stages[0]!.taskDefinition);
  });

  it('refuses a value a netrc cannot hold, naming the field', () => {
    expect(() => compileYaml(yaml, push, { ...withClone, cloneCredentials: { ...clone, username: 'ci bot' } })).toThrow(
      /^compile: cloneCredentials\.username "ci bot" must be non-empty, without whitespace or quotes$/,
    );
    expect(() => compileYaml(yaml, push, { ...withClone, cloneCredentials: { ...clone, machine: '' } })).toThrow(/cloneCredentials\.machine/);
  });
});

// drone/runner-go pipeline/runtime/runner.go numbers the stage's steps as the compiler lists
// them (drone-runner-docker engine/compiler/compiler.go: clone, services, steps), leaving out
// steps whose `when:` does not match (RunNever).
describe('DRONE_STEP_NUMBER counts clone and services as Drone does', () => {
  it('clone 1, services next, then the steps that run', () => {
    const services = 'services:\n  - name: db\n    image: postgres:15\n  - name: cache\n    image: redis:7\n';
    const s = stage(pipeline(step('skipped', ['x'], '    when:\n      branch: [nope]\n') + step('b', ['x']) + step('c', ['x']), services));
    const numberOf = (name: string) =>
      s.taskDefinition.containerDefinitions!.find((d) => d.environment?.some((e) => e.name === 'DRONE_STEP_NAME' && e.value === name))!.environment!.find((e) => e.name === 'DRONE_STEP_NUMBER')!.value;
    expect([numberOf('b'), numberOf('c')]).toEqual(['4', '5']);
  });

  it('a service whose when: does not match is not started and takes no number (RunNever), with a note', () => {
    const services = 'services:\n  - name: db\n    image: postgres:15\n    when:\n      branch: [release]\n  - name: cache\n    image: redis:7\n';
    const s = stage(pipeline(step('b', ['x']), services));
    const env = s.taskDefinition.containerDefinitions!.find((d) => d.name === 'b')!.environment!;
    expect(env.find((e) => e.name === 'DRONE_STEP_NUMBER')!.value).toBe('3');
    expect(s.taskDefinition.containerDefinitions!.map((d) => d.name)).toEqual(['slipway-agent', 'cache', 'b']);
    expect(s.plan.services.map((x) => x.name)).toEqual(['cache']);
    expect(s.notes.filter((n) => n.startsWith('service "db" left out: when: '))).toHaveLength(1);
  });
});
