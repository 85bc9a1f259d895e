// The image catalogue: local mode cannot pull images, so each container image is mapped
// to a program on this machine. Documented in local/README.md; keep both in step.
//
//   agent image (contract.DEFAULT_AGENT_IMAGE or a configured one) → node --import tsx task-runner/main.ts
//   postgres:*            → Debian's PostgreSQL server (initdb with POSTGRES_* env, run as `postgres`)
//   redis:*               → redis-server on 127.0.0.1:6379, no persistence
//   mysql:* / mariadb:*   → mariadbd if installed, else a clear error naming the package
//   the image builder (core/pipeline/image-build.ts, kaniko) → its step script under the host's sh,
//                           with local/image-builder.sh (buildah) as kaniko's executor
//   plugins/manifest      → local/manifest-plugin.sh (buildah manifest) for its /bin/drone-manifest
//                           (local/plugin-images.ts)
//   anything else         → entryPoint + command run with the host's programs
//
// ECS semantics: a container's `entryPoint` replaces the image's; `command` replaces the
// image's default arguments. With an explicit entryPoint every image runs it as is.
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join, relative } from 'node:path';
import { AGENT_ENV, DEFAULT_AGENT_IMAGE, STATE_BUSYBOX } from '../core/pipeline/contract.js';
import { DEFAULT_IMAGE_BUILDER, IMAGE_BUILDER_SHELL } from '../core/pipeline/image-build.js';
import { localPluginImage, type LocalPluginImage } from './plugin-images.js';
import { PUSH_GRANT_DIR } from './push-grant.js';
import { findBinary } from './require-binary.js';

export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface ImageLaunch {
  /** Program and arguments, started in the container's sandbox. */
  argv: string[];
  /** Which catalogue entry produced it, for logs and the metadata endpoint. */
  kind: 'agent' | 'postgres' | 'redis' | 'mariadb' | 'image-builder' | 'plugin' | 'command';
  /** Ports the program listens on by default (a clash is reported when tasks share the host network). */
  ports: number[];
  /** Directories that must hold the postgres/mysql user's data (owned by that user). */
  dataOwner?: string;
  /**
   * What the image brings besides the host's programs, bound into its container when
   * containers have their own root (namespace mode): read-only, the agent's code, the local
   * repository it clones, the image builder's executor; writable, only the image builder's
   * layer cache.
   */
  mounts: { source: string; target: string; readOnly: boolean }[];
}

export type ImageResolution = { ok: true; launch: ImageLaunch } | { ok: false; reason: string };

export interface ContainerImageSpec {
  image: string;
  entryPoint?: string[];
  command?: string[];
  environment: Record<string, string>;
  /** A private, writable directory of this container (data of databases), as the container sees it. */
  dataDir: string;
  /**
   * The container has a network of its own (the task's namespace): servers listen on every
   * address, as the official images do, so that other tasks reach them at the task's IP (a
   * split pipeline's service task). Without it they listen on loopback only: tasks share
   * the host's network then.
   */
  listenAll?: boolean;
  /**
   * The task definition's CPU (runtimePlatform.cpuArchitecture), which this machine does not
   * emulate: the image builder labels its image for it (local/image-builder.sh). Default amd64.
   */
  architecture?: 'amd64' | 'arm64';
  /**
   * Where the agent's code is in the container: AGENT_CODE_DIR when containers have their
   * own root (it is mounted there read-only); default, the project itself (no namespaces).
   */
  agentCodeDir?: string;
}

/** Where the agent image's code (the parts of the project it runs) is mounted in namespace mode. */
export const AGENT_CODE_DIR = '/opt/slipway';

/**
 * What of the project the agent runs from: its sources, the core they import, package.json
 * (its version) and node_modules (tsx, the TypeScript loader, and esbuild under it). The rest
 * of the checkout (tests, .git, other sources) is not the image's.
 */
export const AGENT_CODE_PARTS = ['package.json', 'task-runner', 'core', 'node_modules'];

export interface CatalogueOptions {
  /** Images that run the agent, besides contract.DEFAULT_AGENT_IMAGE. */
  agentImages?: string[];
  /** Images that are the image builder, besides image-build.DEFAULT_IMAGE_BUILDER. */
  builderImages?: string[];
  /** buildah's storage, kept between builds (the layer cache); default $SLIPWAY_BUILDAH_ROOT, else /var/tmp/slipway-buildah. */
  buildahRoot?: string;
  projectRoot?: string;
}

/** `docker.io/library/postgres:15-alpine@sha256:…` → `postgres`. */
export function imageRepositoryName(image: string): string {
  const withoutDigest = image.split('@')[0] ?? image;
  const lastSegment = withoutDigest.split('/').pop() ?? withoutDigest;
  return (lastSegment.split(':')[0] ?? lastSegment).toLowerCase();
}

export function isAgentImage(image: string, options: CatalogueOptions = {}): boolean {
  return image === DEFAULT_AGENT_IMAGE || (options.agentImages ?? []).includes(image);
}

export function resolveImage(spec: ContainerImageSpec, options: CatalogueOptions = {}): ImageResolution {
  const command = spec.command ?? [];
  if (spec.image === DEFAULT_IMAGE_BUILDER || (options.builderImages ?? []).includes(spec.image)) return imageBuilderLaunch(spec, command, options);
  const plugin = localPluginImage(spec.image);
  if (plugin) return pluginLaunch(spec, plugin, command, options);
  if (spec.entryPoint && spec.entryPoint.length > 0) {
    return { ok: true, launch: { argv: [...spec.entryPoint, ...command], kind: 'command', ports: [], mounts: [] } };
  }
  if (isAgentImage(spec.image, options)) return { ok: true, launch: agentLaunch(command, options, spec) };
  const name = imageRepositoryName(spec.image);
  if (name === 'postgres' || name === 'postgresql') return postgresLaunch(spec, command);
  if (name === 'redis') return redisLaunch(spec, command);
  if (name === 'mysql' || name === 'mariadb') return mariadbLaunch(spec, command);
  if (command.length === 0) {
    return {
      ok: false,
      reason: `image ${spec.image} cannot run locally: it has no entryPoint or command and the local image catalogue has no default for it (local mode pulls no image: give the step commands:, which run with this machine's programs; see local/README.md)`,
    };
  }
  return { ok: true, launch: { argv: command, kind: 'command', ports: [], mounts: [] } };
}

/**
 * The image builder: kaniko's image cannot run here. Its step script runs under the host's
 * sh (the image's shell is /busybox/sh), and kaniko's executor is local/image-builder.sh,
 * which builds with buildah and pushes with it. DOCKER_CONFIG (where the script writes the
 * registry login) is the container's private directory.
 */
function imageBuilderLaunch(spec: ContainerImageSpec, command: string[], options: CatalogueOptions): ImageResolution {
  if (!findBinary('buildah', ['/usr/bin'])) {
    return { ok: false, reason: `image ${spec.image} (the image builder) cannot run locally: buildah is not installed (apt-get install buildah, or npm run setup)` };
  }
  const entryPoint = spec.entryPoint ?? [];
  if (entryPoint[0] !== IMAGE_BUILDER_SHELL) {
    return { ok: false, reason: `image ${spec.image} (the image builder) runs locally only as a step script under ${IMAGE_BUILDER_SHELL}, not as ${JSON.stringify([...entryPoint, ...command])}` };
  }
  const root = options.projectRoot ?? PROJECT_ROOT;
  const executor = join(root, 'local', 'image-builder.sh');
  const buildahRoot = options.buildahRoot ?? process.env.SLIPWAY_BUILDAH_ROOT ?? '/var/tmp/slipway-buildah';
  const env = [
    `SLIPWAY_KANIKO_EXECUTOR=${executor}`,
    `SLIPWAY_BUILDAH_ROOT=${buildahRoot}`,
    `DOCKER_CONFIG=${join(spec.dataDir, 'docker')}`,
    `SLIPWAY_PRIVATE_DIR=${spec.dataDir}`,
    `SLIPWAY_BUILD_ARCH=${spec.architecture ?? 'amd64'}`,
    pushGrantVariable(spec),
  ];
  // In a root of its own the executor is bound read-only at its own path, and buildah's
  // storage (the layer cache kept between builds, as kaniko's cache repository is on AWS)
  // writable at its own path: both are the image's, no other container sees them.
  mkdirSync(buildahRoot, { recursive: true, mode: 0o700 });
  const mounts = [
    { source: executor, target: executor, readOnly: true },
    { source: buildahRoot, target: buildahRoot, readOnly: false },
  ];
  return { ok: true, launch: { argv: ['/usr/bin/env', ...env, 'sh', ...entryPoint.slice(1), ...command], kind: 'image-builder', ports: [], mounts } };
}

/**
 * A plugin image with a local stand-in (plugin-images.ts): its entrypoint's program becomes the
 * stand-in, bound read-only at its own path (the host's /bin is the container's, read-only, so
 * the image's own path cannot be bound over), where the container runs that program:
 *  - the image's own entrypoint (no entryPoint given), or an entryPoint that starts with it;
 *  - the launcher (core/pipeline/script.ts, pluginScript), which execs the command line it is
 *    given after its script and its name: `STATE_BUSYBOX sh -c SCRIPT NAME /bin/drone-manifest …`.
 * Only then is it the plugin (kind 'plugin', which the ECS stand-in gives the task role's push
 * right): any other command line (a commands step's script, a service's own entrypoint) is the
 * user's program, run as any image's is, and never sees the push right, which is the
 * registry's one login (the stand-in itself pushes only to the repositories the grant names).
 */
function pluginLaunch(spec: ContainerImageSpec, plugin: LocalPluginImage, command: string[], options: CatalogueOptions): ImageResolution {
  const given = spec.entryPoint && spec.entryPoint.length > 0 ? [...spec.entryPoint, ...command] : [...plugin.entrypoint, ...command];
  const at = standInIndex(spec.entryPoint ?? [], given, plugin.entrypoint[0]!);
  if (at === undefined) return { ok: true, launch: { argv: given, kind: 'command', ports: [], mounts: [] } };
  if (!findBinary('buildah', ['/usr/bin'])) {
    return { ok: false, reason: `image ${spec.image} cannot run locally: its stand-in needs buildah, which is not installed (apt-get install buildah, or npm run setup)` };
  }
  const program = join(options.projectRoot ?? PROJECT_ROOT, plugin.program);
  const argv = given.map((word, i) => (i === at ? program : word));
  return { ok: true, launch: { argv: ['/usr/bin/env', pushGrantVariable(spec), ...argv], kind: 'plugin', ports: [], mounts: [{ source: program, target: program, readOnly: true }] } };
}

/** The launcher's own entryPoint (core/pipeline/containers.ts): its script and its name come before the command line it execs. */
const LAUNCHER = [STATE_BUSYBOX, 'sh', '-c'];

/** Where in `argv` the plugin's program is the one the container runs, if it is. */
function standInIndex(entryPoint: string[], argv: string[], program: string): number | undefined {
  if (argv[0] === program) return 0;
  const launched = entryPoint.length === LAUNCHER.length && entryPoint.every((word, i) => word === LAUNCHER[i]);
  return launched && argv[LAUNCHER.length + 2] === program ? LAUNCHER.length + 2 : undefined;
}

/**
 * Where the task role's push rights to the local registry are, should the ECS stand-in have
 * written them (push-grant.ts): in the container's private directory, for the programs that push.
 */
function pushGrantVariable(spec: Pick<ContainerImageSpec, 'dataDir'>): string {
  return `SLIPWAY_PUSH_GRANT=${join(spec.dataDir, PUSH_GRANT_DIR)}`;
}

/**
 * The agent's command line: the task-runner under node, from the project's sources, at
 * `spec.agentCodeDir` (mounted read-only from the project) or in the project itself. A local
 * repository (a file:// clone URL in the agent's SLIPWAY_BUILD: `slipway up`'s demo,
 * `slipway run`) is a directory of this machine: it is mounted read-only at its own path, so
 * that the agent, and only the agent of that build, can clone it.
 */
export function agentLaunch(command: string[], options: CatalogueOptions = {}, spec: Pick<ContainerImageSpec, 'agentCodeDir' | 'environment'> = { environment: {} }): ImageLaunch {
  const root = options.projectRoot ?? PROJECT_ROOT;
  const codeDir = spec.agentCodeDir ?? root;
  // Absolute loader URL: the agent's working directory is the workspace, not the project.
  const tsxPath = createRequire(join(root, 'package.json')).resolve('tsx');
  const tsxLoader = pathToFileURL(join(codeDir, relative(root, tsxPath))).href;
  const mounts = AGENT_CODE_PARTS.map((part) => ({ source: join(root, part), target: join(codeDir, part), readOnly: true }));
  const repository = localRepository(spec.environment[AGENT_ENV.build]);
  if (repository) mounts.push({ source: repository, target: repository, readOnly: true });
  return { argv: [process.execPath, '--import', tsxLoader, join(codeDir, 'task-runner', 'main.ts'), ...command], kind: 'agent', ports: [], mounts };
}

/** The directory of a local repository the build clones (a file:// URL or an absolute path), if any. */
function localRepository(buildJson: string | undefined): string | undefined {
  if (!buildJson) return undefined;
  let url: unknown;
  try {
    url = (JSON.parse(buildJson) as { repo?: { httpUrl?: unknown } }).repo?.httpUrl;
  } catch (error) {
    // The agent itself reports a malformed SLIPWAY_BUILD (task-runner/config.ts); nothing to mount.
    if (error instanceof SyntaxError) return undefined;
    throw error;
  }
  if (typeof url !== 'string') return undefined;
  if (url.startsWith('file://')) return fileURLToPath(url);
  return url.startsWith('/') ? url : undefined;
}

/** Newest installed PostgreSQL server's bin directory (Debian layout). */
export function postgresBinDir(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(base, versions[0], 'bin');
}

// Mirrors the official image's docker-entrypoint.sh: initdb with POSTGRES_USER and
// POSTGRES_PASSWORD, loopback connections trusted, others by POSTGRES_HOST_AUTH_METHOD,
// POSTGRES_DB created; refuses to start without a password unless the method is trust.
// $1 = bin dir, $2 = data dir, the rest = extra server arguments.
const POSTGRES_SCRIPT = `set -e
BIN="$1"; DATA="$2"; shift 2
if [ "$(id -u)" = 0 ]; then AS="setpriv --reuid=postgres --regid=postgres --init-groups --pdeathsig KILL"; else AS=""; fi
PGUSER_NAME="\${POSTGRES_USER:-postgres}"
PGDB_NAME="\${POSTGRES_DB:-$PGUSER_NAME}"
AUTH="\${POSTGRES_HOST_AUTH_METHOD:-}"
if [ -z "\${POSTGRES_PASSWORD:-}" ] && [ "$AUTH" != trust ]; then
  echo "Error: Database is uninitialized and superuser password is not specified." >&2
  echo "       Set POSTGRES_PASSWORD, or POSTGRES_HOST_AUTH_METHOD=trust to allow all connections without a password." >&2
  exit 1
fi
[ -n "$AUTH" ] || AUTH=scram-sha-256
mkdir -p "$DATA/db"
printf '%s\\n' "\${POSTGRES_PASSWORD:-}" > "$DATA/pwfile"
if [ -n "$AS" ]; then chown -R postgres:postgres "$DATA"; fi
chmod 700 "$DATA/db"
$AS "$BIN/initdb" -D "$DATA/db" --username="$PGUSER_NAME" --pwfile="$DATA/pwfile" --auth=trust --encoding=UTF8 --locale=C.UTF-8 --no-sync $POSTGRES_INITDB_ARGS >"$DATA/initdb.log" 2>&1 || { cat "$DATA/initdb.log" >&2; exit 1; }
rm -f "$DATA/pwfile"
printf 'host all all all %s\\n' "$AUTH" >> "$DATA/db/pg_hba.conf"
if [ "$PGDB_NAME" != postgres ]; then
  Q=$(printf '%s' "$PGDB_NAME" | sed 's/"/""/g')
  echo "CREATE DATABASE \\"$Q\\"" | $AS "$BIN/postgres" --single -D "$DATA/db" -j postgres >/dev/null
fi
echo "postgres: initialized (user $PGUSER_NAME, database $PGDB_NAME, remote auth $AUTH)"
exec $AS "$BIN/postgres" -D "$DATA/db" -c listen_addresses=localhost -p "\${PGPORT:-5432}" "$@"
`;

function postgresLaunch(spec: ContainerImageSpec, command: string[]): ImageResolution {
  const bin = postgresBinDir();
  if (!bin) {
    return { ok: false, reason: `image ${spec.image} cannot run locally: the PostgreSQL server is not installed (apt-get install postgresql, or npm run setup)` };
  }
  const port = Number(spec.environment.PGPORT ?? 5432);
  if (command.length === 0 || command[0] === 'postgres' || command[0]!.startsWith('-')) {
    // Later -c settings win: the user's own listen_addresses still does.
    const serverArgs = [...(spec.listenAll ? ['-c', 'listen_addresses=*'] : []), ...(command[0] === 'postgres' ? command.slice(1) : command)];
    return {
      ok: true,
      launch: { argv: ['/bin/sh', '-c', POSTGRES_SCRIPT, 'postgres', bin, spec.dataDir, ...serverArgs], kind: 'postgres', ports: [port], dataOwner: 'postgres', mounts: [] },
    };
  }
  // Like the image's entrypoint: any other command runs as given (psql, pg_isready, …).
  return { ok: true, launch: { argv: command, kind: 'command', ports: [], mounts: [] } };
}

function redisLaunch(spec: ContainerImageSpec, command: string[]): ImageResolution {
  const server = findBinary('redis-server');
  if (!server) {
    return { ok: false, reason: `image ${spec.image} cannot run locally: redis-server is not installed (apt-get install redis-server, or npm run setup)` };
  }
  // The official image binds every address with protected mode off (its redis.conf is none).
  const bind = spec.listenAll ? ['--bind', '0.0.0.0', '--protected-mode', 'no'] : ['--bind', '127.0.0.1', '-::1'];
  const defaults = [...bind, '--port', '6379', '--save', '', '--appendonly', 'no', '--dir', spec.dataDir];
  if (command.length === 0 || command[0] === 'redis-server' || command[0]!.startsWith('-')) {
    // Later arguments win in redis, so the user's own options override these defaults.
    const userArgs = command[0] === 'redis-server' ? command.slice(1) : command;
    const portIndex = userArgs.indexOf('--port');
    const port = portIndex >= 0 ? Number(userArgs[portIndex + 1]) : 6379;
    return { ok: true, launch: { argv: [server, ...defaults, ...userArgs], kind: 'redis', ports: [port], mounts: [] } };
  }
  return { ok: true, launch: { argv: command, kind: 'command', ports: [], mounts: [] } };
}

// The official mysql/mariadb images' essentials: a fresh data dir, a root password
// (MYSQL_ROOT_PASSWORD / MARIADB_ROOT_PASSWORD or *_ALLOW_EMPTY_*), MYSQL_DATABASE,
// MYSQL_USER / MYSQL_PASSWORD; the server runs as the `mysql` user.
// $1 = server binary, $2 = install-db binary, $3 = data dir, the rest = server arguments.
const MARIADB_SCRIPT = `set -e
SERVER="$1"; INSTALL="$2"; DATA="$3"; shift 3
ROOTPW="\${MARIADB_ROOT_PASSWORD:-\${MYSQL_ROOT_PASSWORD:-}}"
ALLOW_EMPTY="\${MARIADB_ALLOW_EMPTY_ROOT_PASSWORD:-\${MYSQL_ALLOW_EMPTY_PASSWORD:-}}"
DB="\${MARIADB_DATABASE:-\${MYSQL_DATABASE:-}}"
DBUSER="\${MARIADB_USER:-\${MYSQL_USER:-}}"
DBPW="\${MARIADB_PASSWORD:-\${MYSQL_PASSWORD:-}}"
if [ -z "$ROOTPW" ] && [ -z "$ALLOW_EMPTY" ]; then
  echo "Error: database is uninitialized and password option is not specified: set MYSQL_ROOT_PASSWORD or MYSQL_ALLOW_EMPTY_PASSWORD" >&2
  exit 1
fi
mkdir -p "$DATA/db"
if [ "$(id -u)" = 0 ]; then chown -R mysql:mysql "$DATA"; U="--user=mysql"; else U=""; fi
"$INSTALL" $U --datadir="$DATA/db" --auth-root-authentication-method=normal --skip-test-db >"$DATA/install.log" 2>&1 || { cat "$DATA/install.log" >&2; exit 1; }
sq() { printf '%s' "$1" | sed "s/'/''/g"; }
{
  echo "FLUSH PRIVILEGES;"
  [ -z "$ROOTPW" ] || echo "ALTER USER 'root'@'localhost' IDENTIFIED BY '$(sq "$ROOTPW")'; CREATE USER 'root'@'%' IDENTIFIED BY '$(sq "$ROOTPW")'; GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
  [ -z "$DB" ] || echo "CREATE DATABASE IF NOT EXISTS \\\`$DB\\\`;"
  if [ -n "$DBUSER" ]; then
    echo "CREATE USER '$(sq "$DBUSER")'@'%' IDENTIFIED BY '$(sq "$DBPW")';"
    [ -z "$DB" ] || echo "GRANT ALL ON \\\`$DB\\\`.* TO '$(sq "$DBUSER")'@'%';"
  fi
} | "$SERVER" $U --datadir="$DATA/db" --bootstrap >/dev/null
exec "$SERVER" $U --datadir="$DATA/db" --socket="$DATA/mysqld.sock" --bind-address=127.0.0.1 --port="\${MYSQL_TCP_PORT:-3306}" "$@"
`;

function mariadbLaunch(spec: ContainerImageSpec, command: string[]): ImageResolution {
  const server = findBinary('mariadbd', ['/usr/sbin']) ?? findBinary('mysqld', ['/usr/sbin']);
  const install = findBinary('mariadb-install-db', ['/usr/bin']) ?? findBinary('mysql_install_db', ['/usr/bin']);
  if (!server || !install) {
    return {
      ok: false,
      reason: `image ${spec.image} cannot run locally: mariadbd is not installed (apt-get install mariadb-server, or SLIPWAY_SKIP_MARIADB=0 npm run setup)`,
    };
  }
  if (command.length === 0 || command[0] === 'mysqld' || command[0] === 'mariadbd' || command[0]!.startsWith('-')) {
    const serverArgs = command[0] === 'mysqld' || command[0] === 'mariadbd' ? command.slice(1) : command;
    return {
      ok: true,
      launch: { argv: ['/bin/sh', '-c', MARIADB_SCRIPT, 'mariadb', server, install, spec.dataDir, ...serverArgs], kind: 'mariadb', ports: [3306], dataOwner: 'mysql', mounts: [] },
    };
  }
  return { ok: true, launch: { argv: command, kind: 'command', ports: [], mounts: [] } };
}
