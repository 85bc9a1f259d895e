// Which user a container's program runs as, decided as Docker decides it (ECS passes the
// container definition's `user` to Docker's `--user`, and without it the image's USER applies:
// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContainerDefinition.html, `user`).
// The rules are runc's (opencontainers/runc libcontainer/user, GetExecUser), read against the
// passwd and group files the container sees:
// - `name` or `uid`: the passwd entry of that name or uid gives the uid, the primary gid, and
//   the supplementary groups are those of /etc/group that list the name;
// - a numeric uid with no entry runs as that uid with gid 0 and no supplementary group;
// - a name with no entry cannot start ("unable to find user NAME: no matching entries in passwd file");
// - `:group` (a name or a gid) replaces the primary gid and leaves no supplementary group.

/** The ids a container runs with; `initGroups`: the supplementary groups of its passwd entry's name. */
export interface ContainerUser {
  uid: number;
  gid: number;
  /** The passwd name whose groups are the supplementary ones (setpriv --init-groups); none: no supplementary group. */
  initGroupsOf?: string;
}

export type ResolvedUser = { ok: true; user: ContainerUser } | { ok: false; reason: string };

interface Entry {
  name: string;
  id: number;
}

function entries(text: string, idField: number): (Entry & { fields: string[] })[] {
  return text
    .split('\n')
    .map((line) => line.split(':'))
    .filter((fields) => fields.length > idField && /^\d+$/.test(fields[idField]!))
    .map((fields) => ({ name: fields[0]!, id: Number(fields[idField]), fields }));
}

const NUMERIC = /^\d+$/;

/** `spec` (`user`, `uid`, `user:group`, `uid:gid`…) against the container's /etc/passwd and /etc/group. */
export function resolveContainerUser(spec: string, passwd: string, group: string): ResolvedUser {
  const [userPart = '', groupPart] = spec.split(':', 2);
  const users = entries(passwd, 2);
  const found = users.find((u) => u.name === userPart) ?? (NUMERIC.test(userPart) ? users.find((u) => u.id === Number(userPart)) : undefined);
  let uid: number;
  let gid: number;
  let initGroupsOf: string | undefined;
  if (found) {
    uid = found.id;
    gid = Number(found.fields[3]);
    if (!Number.isInteger(gid)) gid = 0;
    initGroupsOf = found.name;
  } else if (NUMERIC.test(userPart)) {
    uid = Number(userPart);
    gid = 0;
  } else {
    return { ok: false, reason: `unable to find user ${userPart}: no matching entries in passwd file` };
  }
  if (groupPart !== undefined && groupPart !== '') {
    const groups = entries(group, 2);
    const g = groups.find((e) => e.name === groupPart) ?? (NUMERIC.test(groupPart) ? { id: Number(groupPart) } : undefined);
    if (!g) return { ok: false, reason: `unable to find group ${groupPart}: no matching entries in group file` };
    gid = g.id;
    initGroupsOf = undefined;
  }
  return { ok: true, user: { uid, gid, ...(initGroupsOf !== undefined ? { initGroupsOf } : {}) } };
}
