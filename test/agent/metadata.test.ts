import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { parseTaskMetadata } from '../../task-runner/metadata.js';

const fixture = JSON.parse(readFileSync(new URL('./fixtures/task-metadata-v4.json', import.meta.url), 'utf8')) as unknown;

describe('parseTaskMetadata', () => {
  it('reads the documented v4 task response', () => {
    const task = parseTaskMetadata(fixture);
    expect(task.taskArn).toBe('arn:aws:ecs:us-west-2:111122223333:task/slipway/cd189a933e5849daa93386466019ab50');
    expect(task.knownStatus).toBe('RUNNING');
    expect(task.containers['slipway-agent']).toMatchObject({ phase: 'running', health: 'HEALTHY', exitCode: null });
    expect(task.containers['database']).toEqual({
      phase: 'running',
      exitCode: null,
      startedAt: '2020-10-08T20:47:20.691447372Z',
      health: 'UNHEALTHY',
      healthOutput: '/var/run/postgresql:5432 - no response\n',
    });
    expect(task.containers['build']).toEqual({
      phase: 'stopped',
      exitCode: 2,
      startedAt: '2020-10-08T20:47:26.742851293Z',
      finishedAt: '2020-10-08T20:48:03.127356024Z',
    });
    // Never started: stopped with no StartedAt and no ExitCode.
    expect(task.containers['publish']).toEqual({ phase: 'stopped', exitCode: null });
    expect(task.containers['notify']).toEqual({ phase: 'pending', exitCode: null });
  });

  it('rejects a body that is not a task', () => {
    expect(() => parseTaskMetadata({ Name: 'curl' })).toThrow('metadata: expected a task object with a Containers array');
    expect(() => parseTaskMetadata(null)).toThrow();
  });
});
