// A container's working directory that does not exist yet is created before its program
// starts, inside a volume too, as runc does on ECS (libcontainer/rootfs_linux.go, prepareRootfs:
// os.MkdirAll(cwd, 0o755) after the mounts): a step whose working directory is the workspace's
// `path` starts before the clone has made that directory.
import { describe, expect, it } from 'vitest';
import { ecsForFile, runOne, sh } from './helpers.js';

const standIn = ecsForFile();

describe('the working directory', () => {
  it('is created when missing, inside a task volume, and the next container finds it there', async () => {
    const workspace = [{ sourceVolume: 'workspace', containerPath: '/go' }];
    const arn = await runOne(
      standIn.client,
      [
        sh('first', 'pwd; stat -c "%a %u" .; touch made-here', { workingDirectory: '/go/src/example.com/app', mountPoints: workspace }),
        sh('second', 'ls /go/src/example.com/app', {
          essential: true,
          mountPoints: workspace,
          dependsOn: [{ containerName: 'first', condition: 'SUCCESS' }],
        }),
      ],
      { volumes: [{ name: 'workspace' }] },
    );
    const final = await standIn.ecs.waitForStopped(arn, 150_000);
    const log = (name: string) => standIn.ecs.logs(arn, name).map((l) => l.message);
    expect(log('first')).toEqual(['/go/src/example.com/app', '755 0']);
    expect(log('second')).toEqual(['made-here']);
    expect((final.containers as { name: string; exitCode?: number }[]).map((c) => [c.name, c.exitCode])).toEqual(
      expect.arrayContaining([['first', 0], ['second', 0]]),
    );
  });
});
