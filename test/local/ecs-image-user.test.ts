// A container without `user` runs as its image's USER, as on ECS (API_ContainerDefinition
// `user` maps to Docker's --user; without it the image's USER applies): the stand-in is as
// strict for the images whose USER it is told (LocalEcsOptions.imageUser).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ecsForFile, runOne, sh } from './helpers.js';

const PASSWD = readFileSync('/etc/passwd', 'utf8');
const UNLISTED_UID = (() => {
  let uid = 40_123;
  while (new RegExp(`^[^:]*:[^:]*:${uid}:`, 'm').test(PASSWD)) uid++;
  return uid;
})();

const USERS: Record<string, string> = { 'example/unlisted:1': String(UNLISTED_UID), 'example/missing:1': 'no-such-user' };
const byContainer = (task: Record<string, unknown>) => Object.fromEntries((task.containers as { name: string }[]).map((c) => [c.name, c]));
const standIn = ecsForFile({ imageUser: (image) => USERS[image] });

describe('the image USER', () => {
  it("runs as the image's USER unless the definition sets user; a name with no passwd entry does not start, in Docker's words", async () => {
    const arn = await runOne(standIn.client, [
      sh('image-user', 'echo "uid=$(id -u) gid=$(id -g)"', { image: 'example/unlisted:1' }),
      sh('definition-user', 'echo "uid=$(id -u)"', { image: 'example/unlisted:1', user: '0' }),
      sh('missing', 'echo must-not-run', { image: 'example/missing:1' }),
      sh('main', 'true', { essential: true, dependsOn: [{ containerName: 'image-user', condition: 'COMPLETE' }, { containerName: 'definition-user', condition: 'COMPLETE' }] }),
    ]);
    const final = await standIn.ecs.waitForStopped(arn, 150_000);
    const log = (name: string) => standIn.ecs.logs(arn, name).map((l) => l.message);
    expect(log('image-user')).toContain(`uid=${UNLISTED_UID} gid=0`);
    expect(log('definition-user')).toContain('uid=0');
    expect(byContainer(final).missing).toMatchObject({ lastStatus: 'STOPPED', reason: 'CannotStartContainerError: Error response from daemon: unable to find user no-such-user: no matching entries in passwd file' });
  });
});
