// The image build steps' script (core/pipeline/image-build-script.ts): the agent writes it
// into its state volume (read-only to the steps) when the plan has such a step, and only then.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { AGENT_EXIT, IMAGE_BUILD_SCRIPT_FILE, STATE_DIR } from '../../core/pipeline/contract.js';
import { IMAGE_BUILD_SCRIPT } from '../../core/pipeline/image-build-script.js';
import { plan, startAgent, tempDirsPerTest } from './run-agent.js';

const dirs = tempDirsPerTest();

describe('the image build script', () => {
  it('is written where the builder steps source it when the plan asks, and only then', async () => {
    const d = dirs();
    const file = join(d.stateDir, IMAGE_BUILD_SCRIPT_FILE.slice(STATE_DIR.length));
    const run = await startAgent({ plan: plan({ imageBuildScript: true }), stateDir: d.stateDir, workspace: d.workspace }).done;
    expect(run.code).toBe(AGENT_EXIT.success);
    expect(readFileSync(file, 'utf8')).toBe(IMAGE_BUILD_SCRIPT);
    const plain = dirs();
    expect((await startAgent({ plan: plan(), stateDir: plain.stateDir, workspace: plain.workspace }).done).code).toBe(AGENT_EXIT.success);
    expect(existsSync(join(plain.stateDir, IMAGE_BUILD_SCRIPT_FILE.slice(STATE_DIR.length)))).toBe(false);
  });
});
