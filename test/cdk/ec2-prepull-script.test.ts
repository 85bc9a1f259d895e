// The boot script of EC2 build instances (lib/ec2-prepull.sh) run by bash as the instance runs
// it, with recorded stand-ins on PATH for what only an instance has: `docker` (no daemon
// here), `aws` (the instance role), `curl` (only for the instance metadata service). Each
// records the arguments it got; the test checks them and their order.

import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const SCRIPT = new URL('../../lib/ec2-prepull.sh', import.meta.url).pathname;
const LAUNCH_HOOK_SCRIPT = new URL('../../lib/ec2-launch-hook.sh', import.meta.url).pathname;
const REGISTRY = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
const hub = (name: string) => `${REGISTRY}/slipway-docker-hub/library/${name}`;

let dir: string;

const FAKES: Record<string, string> = {
  // The instance metadata service, IMDSv2: a token first, then items with it.
  curl: `#!/bin/bash
echo "curl $*" >> "$RECORD"
# An address that does not answer (no metadata service).
[[ "$*" == *metadata.invalid* ]] && exit 7
case "$*" in
  *api/token*) echo TOKEN ;;
  *instance-id*) [[ "$*" == *"X-aws-ec2-metadata-token: TOKEN"* ]] && echo i-0123456789abcdef0 || exit 22 ;;
  *target-lifecycle-state*) echo "$FAKE_TARGET" ;;
  *) exit 22 ;;
esac`,
  aws: `#!/bin/bash
echo "aws $*" >> "$RECORD"
case "$1 $2" in
  "ssm get-parameter") cat "$FAKE_LIST" ;;
  "ecr get-login-password") echo ecr-password-from-the-instance-role ;;
  "autoscaling complete-lifecycle-action")
    # The first FAKE_COMPLETE_FAILURES calls fail as Auto Scaling does before the action is pending.
    calls=$(( $(cat "$RECORD.completes" 2>/dev/null || echo 0) + 1 )); echo "$calls" > "$RECORD.completes"
    (( calls <= \${FAKE_COMPLETE_FAILURES:-0} )) && { echo 'ValidationError: No active Lifecycle Action found' >&2; exit 254; }
    exit 0 ;;
  *) exit 1 ;;
esac`,
  // Amazon Linux's package manager: records which S3 host the repositories resolve to, and installs the aws stand-in.
  dnf: `#!/bin/bash
echo "dnf $* dualstack=\${DNF_VAR_dualstack-unset}" >> "$RECORD"
cp "$AWS_PACKAGE" "$(dirname "$0")/aws"`,
  docker: `#!/bin/bash
case "$1" in
  info) exit 0 ;;
  login) echo "docker $* password=$(cat) config=$DOCKER_CONFIG" >> "$RECORD"; echo '{"auths":{}}' > "$DOCKER_CONFIG/config.json" ;;
  pull)
    echo "docker $*" >> "$RECORD"
    touch "$RUNNING/$$"; ls "$RUNNING" | wc -l >> "$CONCURRENCY"
    sleep "\${FAKE_PULL_SECONDS:-0}"
    rm -f "$RUNNING/$$"
    [[ "$*" == *missing* ]] && exit 1
    exit 0 ;;
  *) exit 2 ;;
esac`,
};

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'slipway-prepull-'));
  for (const sub of ['bin', 'running', 'state', 'docker-data']) mkdirSync(join(dir, sub));
  for (const [name, body] of Object.entries(FAKES)) {
    writeFileSync(join(dir, 'bin', name), `${body}\n`);
    chmodSync(join(dir, 'bin', name), 0o755);
  }
  // What dnf installs, for the runs that start without the AWS CLI (as the ECS-optimized AMI does).
  writeFileSync(join(dir, 'aws-package'), `${FAKES.aws}\n`);
  chmodSync(join(dir, 'aws-package'), 0o755);
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stderr: string;
  record: string[];
  concurrency: number[];
}

async function run(list: string[], env: Record<string, string> = {}, script = SCRIPT): Promise<Run> {
  const bin = join(dir, 'bin');
  const running = join(dir, 'running');
  const state = join(dir, 'state');
  writeFileSync(join(dir, 'list'), list.join('\n'));
  const record = join(dir, 'record');
  const concurrency = join(dir, 'concurrency');
  writeFileSync(record, '');
  writeFileSync(concurrency, '');
  const child = spawn('bash', [script], {
    env: {
      // Only the stand-ins and the system's basic tools: this machine's own aws and docker stay out.
      PATH: `${bin}:/usr/bin:/bin`,
      RECORD: record,
      CONCURRENCY: concurrency,
      RUNNING: running,
      FAKE_LIST: join(dir, 'list'),
      AWS_PACKAGE: join(dir, 'aws-package'),
      FAKE_TARGET: 'InService',
      SLIPWAY_PREPULL_PARAMETER: '/slipway-prepull/Slipway/amd64',
      SLIPWAY_PREPULL_REGION: 'eu-west-1',
      SLIPWAY_PREPULL_REGISTRY: REGISTRY,
      SLIPWAY_PREPULL_LIFECYCLE_HOOK: 'slipway-prepull',
      SLIPWAY_PREPULL_GROUP: 'Slipway-ec2-amd64',
      SLIPWAY_PREPULL_STATE_DIR: state,
      SLIPWAY_PREPULL_DISK_PATH: join(dir, 'docker-data'),
      SLIPWAY_PREPULL_MAX_DISK_PERCENT: '101',
      TMPDIR: dir,
      ...env,
    },
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return {
    code,
    stderr,
    record: readFileSync(record, 'utf8').split('\n').filter(Boolean),
    concurrency: readFileSync(concurrency, 'utf8').split('\n').filter(Boolean).map(Number),
  };
}

const index = (r: Run, prefix: string) => r.record.findIndex((l) => l.startsWith(prefix));
const pulled = (r: Run) => r.record.filter((l) => l.startsWith('docker pull ')).map((l) => l.split(' ').at(-1));

describe('the EC2 instance boot script that pulls the common images ahead', () => {
  it('launched into service: completes the lifecycle action first, logs in to ECR with the instance role, pulls each listed image', async () => {
    const r = await run([hub('postgres:16'), hub('node:20'), `${REGISTRY}/slipway-quay/prometheus/node-exporter:v1`]);
    expect(r.code).toBe(0);
    expect(r.record).toContain('aws ssm get-parameter --region eu-west-1 --name /slipway-prepull/Slipway/amd64 --query Parameter.Value --output text');
    expect(r.record).toContain(
      'aws autoscaling complete-lifecycle-action --region eu-west-1 --lifecycle-hook-name slipway-prepull --auto-scaling-group-name Slipway-ec2-amd64 --instance-id i-0123456789abcdef0 --lifecycle-action-result CONTINUE',
    );
    // In service at once: the action is completed before anything is pulled.
    expect(index(r, 'aws autoscaling complete-lifecycle-action')).toBeLessThan(index(r, 'docker pull'));
    const login = r.record.find((l) => l.startsWith('docker login'))!;
    expect(login).toMatch(new RegExp(`^docker login --username AWS --password-stdin ${REGISTRY.replace(/\./g, '\\.')} password=ecr-password-from-the-instance-role config=${dir}/`));
    expect(index(r, 'docker login')).toBeLessThan(index(r, 'docker pull'));
    expect(r.record.filter((l) => l.startsWith('docker pull')).sort()).toEqual(
      [hub('node:20'), hub('postgres:16'), `${REGISTRY}/slipway-quay/prometheus/node-exporter:v1`].map((i) => `docker pull --quiet ${i}`).sort(),
    );
    // The ECR credentials lived in a temporary Docker config, gone afterwards.
    expect(existsSync(login.split('config=')[1]!)).toBe(false);
    expect(existsSync(join(dir, 'state', 'pulled'))).toBe(true);
    expect(r.stderr).toMatch(/done: 3 images in \d+s/);
  });

  it('launching into the warm pool: pulls first, then completes the action (Auto Scaling then stops it with the images on disk)', async () => {
    const r = await run([hub('postgres:16'), hub('redis:7')], { FAKE_TARGET: 'Warmed:Stopped' });
    expect(r.code).toBe(0);
    expect(pulled(r).sort()).toEqual([hub('postgres:16'), hub('redis:7')]);
    const lastPull = r.record.map((l) => l.startsWith('docker pull')).lastIndexOf(true);
    expect(index(r, 'aws autoscaling complete-lifecycle-action')).toBeGreaterThan(lastPull);
    expect(existsSync(join(dir, 'state', 'pulled'))).toBe(true);
  });

  it('started from the warm pool: completes the action at once and pulls nothing again', async () => {
    writeFileSync(join(dir, 'state', 'pulled'), '');
    const r = await run([hub('postgres:16')], { FAKE_TARGET: 'InService' });
    expect(r.code).toBe(0);
    expect(r.record.filter((l) => l.startsWith('docker') || l.startsWith('aws ssm') || l.startsWith('aws ecr'))).toEqual([]);
    expect(r.record.filter((l) => l.startsWith('aws autoscaling complete-lifecycle-action'))).toHaveLength(1);
  });

  it('takes each line as one image argument, never an option or a command, and at most the bound', async () => {
    const list = ['--all-tags', `${hub('alpine:3')} ; touch ${dir}/owned`, '$(touch owned)', hub('alpine:3'), ...Array.from({ length: 20 }, (_, i) => hub(`img-${i}:1`))];
    const r = await run(list, { SLIPWAY_PREPULL_MAX_IMAGES: '5' });
    expect(r.code).toBe(0);
    expect(pulled(r).sort()).toEqual([hub('alpine:3'), hub('img-0:1'), hub('img-1:1'), hub('img-2:1'), hub('img-3:1')]);
    for (const line of r.record.filter((l) => l.startsWith('docker pull'))) expect(line.split(' ')).toHaveLength(4);
    expect(existsSync(join(dir, 'owned'))).toBe(false);
    expect(r.stderr).toMatch(/not an image reference, skipped: --all-tags/);
    expect(r.stderr).toMatch(/16 references past the first 5 skipped/);
  });

  it('pulls a few at a time, skips a pull that fails, and stops starting pulls at the deadline', async () => {
    const list = [hub('missing:1'), ...Array.from({ length: 7 }, (_, i) => hub(`slow-${i}:1`))];
    const r = await run(list, { SLIPWAY_PREPULL_PARALLEL: '2', FAKE_PULL_SECONDS: '2', SLIPWAY_PREPULL_DEADLINE_SECONDS: '3' });
    expect(r.code).toBe(0);
    expect(Math.max(...r.concurrency)).toBeLessThanOrEqual(2);
    expect(r.stderr).toMatch(/could not pull .*missing:1/);
    // Eight two-second pulls, two at a time, cannot all start within three seconds.
    expect(r.stderr).toMatch(/deadline of 3s reached: not pulled/);
    expect(pulled(r).length).toBeLessThan(list.length);
    expect(r.record.filter((l) => l.startsWith('aws autoscaling complete-lifecycle-action'))).toHaveLength(1);
  });

  it('starts no pull once the disk is as full as the bound allows', async () => {
    const r = await run([hub('postgres:16'), hub('node:20')], { SLIPWAY_PREPULL_MAX_DISK_PERCENT: '0' });
    expect(r.code).toBe(0);
    expect(pulled(r)).toEqual([]);
    expect(r.stderr).toMatch(/% used \(limit 0%\): not pulled/);
  });

  it('without the AWS CLI (the ECS-optimized AMI has none): installs it from the regional S3 host, which the S3 gateway endpoint of private subnets routes', async () => {
    rmSync(join(dir, 'bin', 'aws'));
    const r = await run([hub('postgres:16')]);
    expect(r.code).toBe(0);
    // AL2023's repository file names the dual-stack S3 host ($dualstack); an empty variable makes it the regional one.
    expect(r.record.filter((l) => l.startsWith('dnf'))).toEqual(['dnf install -y -q awscli-2 dualstack=']);
    expect(index(r, 'aws ssm get-parameter')).toBeGreaterThan(index(r, 'dnf install'));
    expect(pulled(r)).toEqual([hub('postgres:16')]);
  });

  it('without a lifecycle hook (no warm pool) only pulls', async () => {
    const r = await run([hub('postgres:16')], { SLIPWAY_PREPULL_LIFECYCLE_HOOK: '', SLIPWAY_PREPULL_GROUP: '' });
    expect(r.code).toBe(0);
    expect(pulled(r)).toEqual([hub('postgres:16')]);
    expect(r.record.some((l) => l.startsWith('aws autoscaling'))).toBe(false);
  });
});

describe('the EC2 instance boot script that completes a warm pool launch hook when nothing is pulled ahead', () => {
  const hookEnv = {
    SLIPWAY_LAUNCH_HOOK: 'slipway-launch',
    SLIPWAY_LAUNCH_HOOK_GROUP: 'Slipway-slipway-ec2-amd64',
    SLIPWAY_LAUNCH_HOOK_REGION: 'eu-west-1',
    SLIPWAY_LAUNCH_HOOK_RETRY_SECONDS: '0',
  };
  const completes = (r: Run) => r.record.filter((l) => l.startsWith('aws autoscaling complete-lifecycle-action'));

  it('completes its group\'s launch action for this instance (found with an IMDSv2 token), once, and calls nothing else', async () => {
    const r = await run([], hookEnv, LAUNCH_HOOK_SCRIPT);
    expect(r.code).toBe(0);
    expect(completes(r)).toEqual([
      'aws autoscaling complete-lifecycle-action --region eu-west-1 --lifecycle-hook-name slipway-launch --auto-scaling-group-name Slipway-slipway-ec2-amd64 --instance-id i-0123456789abcdef0 --lifecycle-action-result CONTINUE',
    ]);
    expect(r.record.filter((l) => l.startsWith('aws ') || l.startsWith('docker') || l.startsWith('dnf'))).toEqual(completes(r));
    expect(r.stderr).toMatch(/completed slipway-launch for i-0123456789abcdef0/);
  });

  it('without the AWS CLI: installs it from the regional S3 host first', async () => {
    rmSync(join(dir, 'bin', 'aws'));
    const r = await run([], hookEnv, LAUNCH_HOOK_SCRIPT);
    expect(r.code).toBe(0);
    expect(r.record.filter((l) => l.startsWith('dnf'))).toEqual(['dnf install -y -q awscli-2 dualstack=']);
    expect(completes(r)).toHaveLength(1);
  });

  it('tries again while the action is not pending yet, and gives up after its tries without failing the boot', async () => {
    const late = await run([], { ...hookEnv, FAKE_COMPLETE_FAILURES: '2' }, LAUNCH_HOOK_SCRIPT);
    expect(late.code).toBe(0);
    expect(completes(late)).toHaveLength(3);
    expect(late.stderr).toMatch(/completed slipway-launch/);

    rmSync(join(dir, 'record.completes'), { force: true });
    const never = await run([], { ...hookEnv, FAKE_COMPLETE_FAILURES: '99', SLIPWAY_LAUNCH_HOOK_ATTEMPTS: '4' }, LAUNCH_HOOK_SCRIPT);
    expect(never.code).toBe(0);
    expect(completes(never)).toHaveLength(4);
    expect(never.stderr).toMatch(/could not complete the lifecycle action slipway-launch after 4 tries: Auto Scaling continues after the hook's timeout/);
  });

  it('calls nothing without an instance id (no metadata service answer): the hook ends at its timeout', async () => {
    const r = await run([], { ...hookEnv, SLIPWAY_LAUNCH_HOOK_IMDS: 'http://metadata.invalid' }, LAUNCH_HOOK_SCRIPT);
    expect(r.code).toBe(0);
    expect(completes(r)).toEqual([]);
    expect(r.stderr).toMatch(/no instance id/);
  });
});
