// The SOCI converter's script (task-runner/soci-converter/convert.sh) run by bash as the task
// runs it, with recorded stand-ins on PATH for what only its image has: `skopeo` (no registry
// here) and `soci` (no release can be installed here). Each records its arguments; the test
// checks them, their order, and the report line the task-events Lambda reads
// (core/images/soci.ts parseSociReport).

import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseSociReport } from '../../core/images/soci.js';

const SCRIPT = new URL('../../task-runner/soci-converter/convert.sh', import.meta.url).pathname;
const REGISTRY = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
const REPOSITORY = 'slipway-docker-hub/library/node';
const SOURCE = `sha256:${'a'.repeat(64)}`;
const CONVERTED = `sha256:${'c'.repeat(64)}`;
const TARGET = `${REGISTRY}/slipway-soci/${REPOSITORY}:soci-${'a'.repeat(64)}`;

const FAKES: Record<string, string> = {
  skopeo: `#!/bin/bash
echo "skopeo $* auth=$(cat "$REGISTRY_AUTH_FILE" 2>/dev/null)" >> "$RECORD"
case "$1 $2" in
  "inspect --raw") cat "$FAKE_RAW" ;;
  "inspect --config") cat "$FAKE_CONFIG" ;;
  copy*)
    [[ -n \${FAKE_COPY_HANGS:-} ]] && exec sleep 3600
    digestfile=""; prev=""
    for a in "$@"; do [[ $prev == --digestfile ]] && digestfile=$a; prev=$a; done
    [[ -n $digestfile ]] && { [[ -n \${FAKE_PUSH_FAILS:-} ]] && exit 1; echo "$FAKE_PUSHED" > "$digestfile"; }
    exit 0 ;;
  *) exit 2 ;;
esac`,
  soci: `#!/bin/bash
echo "soci $*" >> "$RECORD"
exit \${FAKE_SOCI_EXIT:-0}`,
};

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'slipway-soci-'));
  mkdirSync(join(dir, 'bin'));
  for (const [name, body] of Object.entries(FAKES)) {
    writeFileSync(join(dir, 'bin', name), `${body}\n`);
    chmodSync(join(dir, 'bin', name), 0o755);
  }
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** node:20's index as Docker Hub serves it: five platforms and their attestations. */
const NODE_INDEX = {
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.index.v1+json',
  manifests: [
    { digest: `sha256:${'1'.repeat(64)}`, platform: { os: 'linux', architecture: 'amd64' } },
    { digest: `sha256:${'2'.repeat(64)}`, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
    { digest: `sha256:${'3'.repeat(64)}`, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    { digest: `sha256:${'4'.repeat(64)}`, platform: { os: 'linux', architecture: 's390x' } },
    { digest: `sha256:${'5'.repeat(64)}`, platform: { os: 'unknown', architecture: 'unknown' } },
  ],
};

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  record: string[];
}

async function run(options: { raw?: unknown; config?: unknown; env?: Record<string, string> } = {}): Promise<Run> {
  const record = join(dir, 'record');
  writeFileSync(record, '');
  writeFileSync(join(dir, 'raw'), JSON.stringify(options.raw ?? NODE_INDEX));
  writeFileSync(join(dir, 'config'), JSON.stringify(options.config ?? {}));
  const child = spawn('bash', [SCRIPT], {
    env: {
      // The stand-ins and the system's basic tools (bash, jq, coreutils): nothing else of this machine.
      PATH: `${join(dir, 'bin')}:/usr/bin:/bin`,
      RECORD: record,
      FAKE_RAW: join(dir, 'raw'),
      FAKE_CONFIG: join(dir, 'config'),
      FAKE_PUSHED: CONVERTED,
      SLIPWAY_SOCI_SOURCE: `${REGISTRY}/${REPOSITORY}`,
      SLIPWAY_SOCI_DIGEST: SOURCE,
      SLIPWAY_SOCI_TARGET: TARGET,
      SLIPWAY_SOCI_WORK: join(dir, 'work'),
      ...options.env,
    },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, stdout, stderr, record: readFileSync(record, 'utf8').split('\n').filter(Boolean) };
}

describe('convert.sh (the SOCI converter task)', () => {
  it('copies the cached image, converts the platforms Fargate runs, pushes the copy as is, and reports it last', async () => {
    const r = await run();
    expect(r.code, r.stderr).toBe(0);
    const auth = `auth={"credHelpers":{"${REGISTRY}":"ecr-login"}}`;
    expect(r.record).toEqual([
      `skopeo inspect --raw docker://${REGISTRY}/${REPOSITORY}@${SOURCE} ${auth}`,
      `skopeo copy --quiet --multi-arch all docker://${REGISTRY}/${REPOSITORY}@${SOURCE} oci:${dir}/work/in ${auth}`,
      `soci convert --standalone --format oci-dir --platform linux/amd64 --platform linux/arm64 ${dir}/work/in ${dir}/work/out`,
      `skopeo copy --quiet --multi-arch all --preserve-digests --digestfile ${dir}/work/digest oci:${dir}/work/out docker://${TARGET} ${auth}`,
    ]);
    const last = r.stdout.trim().split('\n').at(-1)!;
    expect(parseSociReport(last)).toEqual({ source: SOURCE, converted: CONVERTED, repository: `slipway-soci/${REPOSITORY}`, tag: `soci-${'a'.repeat(64)}` });
  });

  it("converts a single-platform image for the platform its config names", async () => {
    const r = await run({ raw: { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { digest: `sha256:${'6'.repeat(64)}` }, layers: [] }, config: { os: 'linux', architecture: 'arm64' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.record.find((l) => l.startsWith('soci '))).toContain('--platform linux/arm64 ');
  });

  it('refuses a target other than slipway-soci/<the cached repository>:soci-<its digest>, before fetching anything', async () => {
    for (const target of [`${REGISTRY}/slipway-soci/other/repo:soci-${'a'.repeat(64)}`, `${REGISTRY}/${REPOSITORY}:20`, `999999999999.dkr.ecr.eu-west-1.amazonaws.com/slipway-soci/${REPOSITORY}:soci-${'a'.repeat(64)}`]) {
      const r = await run({ env: { SLIPWAY_SOCI_TARGET: target } });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('expected');
      expect(r.record).toEqual([]);
    }
    const badDigest = await run({ env: { SLIPWAY_SOCI_DIGEST: 'sha256:abc' } });
    expect(badDigest.code).toBe(1);
    expect(badDigest.record).toEqual([]);
  });

  it('reports nothing and pushes nothing when soci fails', async () => {
    const r = await run({ env: { FAKE_SOCI_EXIT: '3' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('soci convert failed');
    expect(r.record.some((l) => l.includes('docker://' + TARGET))).toBe(false);
    expect(r.stdout).not.toContain('SLIPWAY_SOCI');
  });

  it('reports nothing when the push fails or gives back the source digest (no SOCI index in it)', async () => {
    const failed = await run({ env: { FAKE_PUSH_FAILS: '1' } });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(`cannot push ${TARGET}`);
    const same = await run({ env: { FAKE_PUSHED: SOURCE } });
    expect(same.code).toBe(1);
    expect(same.stderr).toContain('carries no SOCI index');
    expect(`${failed.stdout}${same.stdout}`).not.toContain('SLIPWAY_SOCI');
  });

  it('stops a step that hangs once the time of the conversion is spent, and reports nothing', async () => {
    const r = await run({ env: { FAKE_COPY_HANGS: '1', SLIPWAY_SOCI_LIMIT_SECONDS: '2' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("skopeo did not end within the conversion's 2 s: stopped");
    expect(r.stderr).toContain(`cannot copy ${REGISTRY}/${REPOSITORY}@${SOURCE}`);
    expect(r.record.some((l) => l.startsWith('soci ') || l.includes(`docker://${TARGET}`))).toBe(false);
    expect(r.stdout).not.toContain('SLIPWAY_SOCI');
  });

  it('converts nothing of an image Fargate cannot run (no linux/amd64 or linux/arm64)', async () => {
    const r = await run({ raw: { ...NODE_INDEX, manifests: NODE_INDEX.manifests.filter((m) => m.platform.architecture === 's390x') } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('nothing Fargate runs');
    expect(r.record).toHaveLength(1);
  });
});
