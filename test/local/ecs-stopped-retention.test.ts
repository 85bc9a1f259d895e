// ECS keeps a stopped task describable "for at least one hour" (API_DescribeTasks: "Currently,
// stopped tasks appear in the returned results for at least one hour"), then DescribeTasks answers
// MISSING and ListTasks omits it. The stand-in forgets them after its retention too, so code that
// reads a long-stopped task's record fails here as on AWS; the retention is shortened to 0 here.
import { DescribeTasksCommand, ListTasksCommand, RegisterTaskDefinitionCommand, RunTaskCommand } from '@aws-sdk/client-ecs';
import { describe, expect, it } from 'vitest';
import { HANG_GUARD_MS } from '../support/wait.js';
import { ecsForFile, family, sh } from './helpers.js';

const kept = ecsForFile({ namespaces: false });
const forgotten = ecsForFile({ namespaces: false, stoppedTaskRetentionMs: 0 });

async function runToStop(standIn: typeof kept, name: string): Promise<string> {
  await standIn.client.send(new RegisterTaskDefinitionCommand({ family: name, containerDefinitions: [sh('main', 'true', { essential: true })] }));
  const arn = (await standIn.client.send(new RunTaskCommand({ taskDefinition: name, startedBy: name }))).tasks![0]!.taskArn!;
  await standIn.ecs.waitForStopped(arn, HANG_GUARD_MS);
  return arn;
}

describe('stopped tasks in DescribeTasks and ListTasks (ECS: at least one hour, then MISSING)', () => {
  it('within the retention (one hour by default) a stopped task is described and listed as STOPPED', async () => {
    const name = family('kept');
    const arn = await runToStop(kept, name);
    const out = await kept.client.send(new DescribeTasksCommand({ tasks: [arn] }));
    expect(out.tasks?.map((t) => t.lastStatus)).toEqual(['STOPPED']);
    expect((await kept.client.send(new ListTasksCommand({ family: name, desiredStatus: 'STOPPED' }))).taskArns).toEqual([arn]);
  });

  it('past the retention it is MISSING to DescribeTasks and gone from ListTasks; its logs stay with the stand-in', async () => {
    const name = family('forgotten');
    const arn = await runToStop(forgotten, name);
    const out = await forgotten.client.send(new DescribeTasksCommand({ tasks: [arn] }));
    expect(out.tasks).toEqual([]);
    expect(out.failures).toEqual([{ arn, reason: 'MISSING' }]);
    expect((await forgotten.client.send(new ListTasksCommand({ family: name, desiredStatus: 'STOPPED' }))).taskArns).toEqual([]);
    expect(forgotten.ecs.logStream(arn, 'main')).toBeDefined();
  });
});
