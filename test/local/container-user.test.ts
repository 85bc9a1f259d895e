// Who a local container runs as: runc's rules (libcontainer/user, GetExecUser) over the
// passwd and group files the container sees, as Docker applies a container definition's
// `user` or, without one, its image's USER (API_ContainerDefinition `user`).
import { describe, expect, it } from 'vitest';
import { resolveContainerUser } from '../../local/ecs/container-user.js';

const PASSWD = 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\napp:x:1001:1002::/home/app:/bin/sh\n';
const GROUP = 'root:x:0:\nnogroup:x:65534:\nstaff:x:50:app\napp:x:1002:\n';

describe('resolveContainerUser', () => {
  it.each([
    ['a name in passwd: its uid, its primary gid, its groups', 'app', { uid: 1001, gid: 1002, initGroupsOf: 'app' }],
    ['a uid in passwd: the same', '1001', { uid: 1001, gid: 1002, initGroupsOf: 'app' }],
    ['nobody', 'nobody', { uid: 65534, gid: 65534, initGroupsOf: 'nobody' }],
    ['a uid with no entry: gid 0, no supplementary group', '40123', { uid: 40123, gid: 0 }],
    ['user:group by names: that group alone', 'app:staff', { uid: 1001, gid: 50 }],
    ['uid:gid with no entries', '40123:40124', { uid: 40123, gid: 40124 }],
    ['root', '0', { uid: 0, gid: 0, initGroupsOf: 'root' }],
  ])('%s', (_, spec, user) => {
    expect(resolveContainerUser(spec, PASSWD, GROUP)).toEqual({ ok: true, user });
  });

  it("refuses a name or group that is not there, with Docker's words", () => {
    expect(resolveContainerUser('builder', PASSWD, GROUP)).toEqual({ ok: false, reason: 'unable to find user builder: no matching entries in passwd file' });
    expect(resolveContainerUser('app:wheel', PASSWD, GROUP)).toEqual({ ok: false, reason: 'unable to find group wheel: no matching entries in group file' });
  });
});
