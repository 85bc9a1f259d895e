// Task metadata endpoint v4, with Fargate's response shapes: `${ECS_CONTAINER_METADATA_URI_V4}`
// is the container, `/task` the task with all its containers. With namespaces each task
// gets a listener on its own host-side address (port 80, like 169.254.170.2 on Fargate),
// reachable only from that task; without them one loopback listener serves every task.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ContainerState } from './container.js';
import type { LocalTask, MetadataAttachment } from './task.js';

const iso = (d: Date | undefined): string | undefined => d?.toISOString();

function knownStatus(c: ContainerState): string {
  return c.lastStatus === 'PENDING' ? 'PENDING' : c.lastStatus;
}

export function containerMetadata(task: LocalTask, c: ContainerState): Record<string, unknown> {
  const { group, stream } = task.logStream(c);
  const taskAddress = task.sandbox?.taskAddress ?? '127.0.0.1';
  return {
    DockerId: c.runtimeId,
    Name: c.def.name,
    DockerName: c.def.name,
    Image: c.def.image,
    ImageID: `sha256:${Buffer.from(c.def.image).toString('hex').padEnd(64, '0').slice(0, 64)}`,
    Labels: {
      'com.amazonaws.ecs.cluster': task.clusterArn,
      'com.amazonaws.ecs.container-name': c.def.name,
      'com.amazonaws.ecs.task-arn': task.arn,
      'com.amazonaws.ecs.task-definition-family': task.definition.family,
      'com.amazonaws.ecs.task-definition-version': String(task.definition.revision),
    },
    DesiredStatus: task.desiredStatus === 'STOPPED' ? 'STOPPED' : 'RUNNING',
    KnownStatus: knownStatus(c),
    ...(c.exitCode !== undefined ? { ExitCode: c.exitCode } : {}),
    Limits: { CPU: c.def.cpu ?? 0, Memory: c.def.memory ?? 0 },
    CreatedAt: iso(c.createdAt),
    ...(c.startedAt ? { StartedAt: iso(c.startedAt) } : {}),
    ...(c.finishedAt ? { FinishedAt: iso(c.finishedAt) } : {}),
    Type: 'NORMAL',
    ...(c.def.healthCheck
      ? { Health: { status: c.health, ...(c.healthSince ? { statusSince: iso(c.healthSince) } : {}), ...(c.healthExitCode !== undefined ? { exitCode: c.healthExitCode, output: c.healthOutput ?? '' } : {}) } }
      : {}),
    Networks: [
      {
        NetworkMode: 'awsvpc',
        IPv4Addresses: [taskAddress],
        AttachmentIndex: 0,
        IPv4SubnetCIDRBlock: task.sandbox?.mode === 'namespace' ? `${taskAddress.replace(/\.\d+$/, '')}.${Number(taskAddress.split('.')[3]) - 2}/30` : '127.0.0.0/8',
        PrivateDNSName: `ip-${taskAddress.replace(/\./g, '-')}.ec2.internal`,
        SubnetGatewayIpv4Address: `${task.sandbox?.hostAddress ?? '127.0.0.1'}/30`,
      },
    ],
    ContainerARN: c.containerArn,
    LogOptions: { 'awslogs-group': group, 'awslogs-region': task.host.region, 'awslogs-stream': stream },
    LogDriver: 'awslogs',
    Snapshotter: 'overlayfs',
  };
}

export function taskMetadata(task: LocalTask): Record<string, unknown> {
  return {
    Cluster: task.clusterArn,
    TaskARN: task.arn,
    Family: task.definition.family,
    Revision: String(task.definition.revision),
    DesiredStatus: task.desiredStatus,
    KnownStatus: task.lastStatus,
    Limits: { CPU: task.vcpus, Memory: Number(task.params.memory) },
    ...(task.pullStartedAt ? { PullStartedAt: iso(task.pullStartedAt) } : {}),
    ...(task.pullStoppedAt ? { PullStoppedAt: iso(task.pullStoppedAt) } : {}),
    AvailabilityZone: `${task.host.region}a`,
    LaunchType: 'FARGATE',
    Containers: task.containers.map((c) => containerMetadata(task, c)),
    ...(task.stoppedAt ? { ExecutionStoppedAt: iso(task.stoppedAt) } : {}),
    ClockDrift: { ClockErrorBound: 0.5, ReferenceTimestamp: new Date().toISOString(), ClockSynchronizationStatus: 'SYNCHRONIZED' },
    EphemeralStorageMetrics: { Utilized: 0, Reserved: 20496 },
  };
}

/** Serves `/v4/<runtimeId>`, `/task`, `/stats`, `/task/stats` for the given tasks. */
function handler(lookup: (runtimeId: string) => { task: LocalTask; container: ContainerState } | undefined) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const match = /^\/v4\/([^/]+)(\/task)?(\/stats)?\/?$/.exec(req.url ?? '');
    const found = match ? lookup(match[1]!) : undefined;
    if (req.method !== 'GET' || !match || !found) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('404 page not found\n');
      return;
    }
    let body: unknown;
    if (match[3]) body = {}; // container and task stats are not measured locally
    else body = match[2] ? taskMetadata(found.task) : containerMetadata(found.task, found.container);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
}

export class MetadataService {
  private shared?: Server;
  private sharedUrl?: string;
  private readonly tasks = new Map<string, LocalTask>();

  async attach(task: LocalTask): Promise<MetadataAttachment> {
    const lookup = (runtimeId: string) => {
      const container = task.containers.find((c) => c.runtimeId === runtimeId);
      return container ? { task, container } : undefined;
    };
    if (task.sandbox?.mode === 'namespace') {
      const server = createServer(handler(lookup));
      await listen(server, 80, task.sandbox.hostAddress);
      return { baseUrl: `http://${task.sandbox.hostAddress}/v4`, close: () => close(server) };
    }
    this.tasks.set(task.arn, task);
    if (!this.shared) {
      this.shared = createServer(
        handler((runtimeId) => {
          for (const t of this.tasks.values()) {
            const container = t.containers.find((c) => c.runtimeId === runtimeId);
            if (container) return { task: t, container };
          }
          return undefined;
        }),
      );
      await listen(this.shared, 0, '127.0.0.1');
      this.sharedUrl = `http://127.0.0.1:${(this.shared.address() as AddressInfo).port}/v4`;
    }
    return { baseUrl: this.sharedUrl!, close: async () => void this.tasks.delete(task.arn) };
  }

  async close(): Promise<void> {
    if (this.shared) await close(this.shared);
    this.shared = undefined;
  }
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
}
