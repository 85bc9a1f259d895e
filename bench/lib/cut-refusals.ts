// The facts about the corpus pipelines that ECS's 10 containers stop and the cut into
// consecutive tasks refuses (core/pipeline/segments.ts): how many containers each needs,
// what keeps its services from a task of their own, which of its services would listen on
// the same port in one network namespace, and what the cut would make of it if the service
// task could see the steps' files. `npm run bench -- cut-refusals` prints them;
// docs/design/split-pipelines.md ("What would run owncloud's 24") rests on them.
//
// Ports: in one Fargate task every container shares one network namespace (one ENI per task;
// "containers that belong to the same task can also communicate over the localhost interface",
// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-task-networking.html), so
// two services on one port cannot both bind it. Drone gives each service a container of its
// own on the build's network, reached by its name (drone-runner-docker engine/convert.go,
// toNetConfig: an endpoint per container with the step name as alias), so there they can.

import { loadManifest } from '../../core/pipeline/load.js';
import { LINT } from '../../core/pipeline/lint.js';
import { MAX_CONTAINERS } from '../../core/pipeline/limits.js';
import { fitContainers, type PackUnit } from '../../core/pipeline/pack.js';
import { cutBlockers, segments, type ServiceTaskBlocker } from '../../core/pipeline/segments.js';
import { imageRepository, knownImagePorts } from '../../core/pipeline/known-images.js';
import { stepKind } from '../../core/pipeline/step-order.js';
import type { Pipeline, Step } from '../../core/pipeline/types.js';
import type { CorpusFile } from './corpus.js';

/** Where the ports a service listens on come from. */
export type PortSource = 'declared' | 'known image' | 'image sources' | 'unknown';

export interface ServicePorts {
  service: string;
  image: string;
  ports: number[];
  source: PortSource;
}

export interface CutRefusal {
  file: string;
  pipeline: string;
  /** Containers with the agent, each step its own; and after packing steps that share an image. */
  containers: { unpacked: number; packed: number };
  services: ServicePorts[];
  blockers: ServiceTaskBlocker[];
  /** Ports that two or more services of the pipeline would listen on, with those services. */
  portClashes: { port: number; services: string[] }[];
  /**
   * The cut if the service task saw the steps' files (services reading no path, sharing no
   * volume, detached steps first): its segments and the service task's containers, or why not.
   */
  ifFilesShared: { segments: number; serviceTask: number } | { refused: string };
}

/**
 * Ports read from images' own sources where neither the file declares them nor Slipway knows
 * the image (core/pipeline/known-images.ts), each with where it was read.
 */
const PORTS_FROM_SOURCES: readonly { applies: (s: Step) => boolean; ports: number[]; source: string }[] = [
  {
    // owncloud-ci/php: rootfs/usr/local/bin/apachectl writes sites-enabled/000-default.conf from
    // templates/base (`<VirtualHost *:80>`) and has no port variable (only APACHE_WEBROOT,
    // APACHE_CONFIG_TEMPLATE, APACHE_SSL_*, APACHE_WEBDAV_*); the image ships no ports.conf, so
    // Ubuntu's apache2 package's applies: `Listen 80`, and `Listen 443` with ssl_module, which
    // v7.1/Dockerfile.amd64 enables (`a2enmod … ssl …`).
    applies: (s) => imageRepository(s.image) === 'owncloudci/php' && [...s.commands, ...(s.command ?? []), ...(s.entrypoint ?? [])].some((t) => /\bapachectl\b/.test(t)),
    ports: [80, 443],
    source: 'owncloud-ci/php apachectl + templates/base; Ubuntu apache2 ports.conf',
  },
  {
    // The Selenium 3 standalone server listens on 4444; the -debug images add a VNC server on 5900.
    applies: (s) => /^selenium\/standalone-(chrome|firefox)-debug$/.test(imageRepository(s.image)),
    ports: [4444, 5900],
    source: 'SeleniumHQ/docker-selenium standalone -debug images',
  },
];

export function servicePorts(service: Step): ServicePorts {
  const base = { service: service.name, image: service.image };
  const known = knownImagePorts(service.image);
  const ready = service.ready?.ports ?? [];
  if (ready.length > 0 && !(known && sameSet(ready, known))) return { ...base, ports: [...ready], source: 'declared' };
  if (known) return { ...base, ports: known, source: 'known image' };
  const read = PORTS_FROM_SOURCES.find((p) => p.applies(service));
  if (read) return { ...base, ports: [...read.ports], source: 'image sources' };
  return { ...base, ports: [], source: 'unknown' };
}

function sameSet(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

export function portClashes(services: readonly ServicePorts[]): { port: number; services: string[] }[] {
  const byPort = new Map<number, string[]>();
  for (const s of services) for (const port of new Set(s.ports)) byPort.set(port, [...(byPort.get(port) ?? []), s.service]);
  return [...byPort]
    .filter(([, names]) => names.length > 1)
    .sort((a, b) => a[0] - b[0])
    .map(([port, names]) => ({ port, services: names }));
}

/** The pipeline as it would be if its service task saw the steps' files: what the cut then makes of it. */
function withFilesShared(pipeline: Pipeline): Pipeline {
  const services = pipeline.services.map((s) => ({ ...s, environment: {}, commands: [], command: undefined, entrypoint: undefined, volumes: [] }));
  const detached = pipeline.steps.filter((s) => s.detach).map((s) => ({ ...s, dependsOn: [], volumes: [] }));
  return { ...pipeline, services, steps: [...detached, ...pipeline.steps.filter((s) => !s.detach)] };
}

/** Every docker pipeline of the files that only ECS's limit stops and whose cut is refused. */
export function cutRefusals(files: readonly CorpusFile[]): CutRefusal[] {
  const out: CutRefusal[] = [];
  for (const file of files) {
    const manifest = loadManifest('.drone.yml', file.text);
    for (const error of manifest.errors) {
      if (!error.diagnostics.every((d) => d.message.includes(LINT.tooManyContainers))) continue;
      const pipeline = manifest.pipelines[error.index]!;
      if (segments(pipeline).kind !== 'impossible') continue;
      const units: PackUnit[] = pipeline.steps.flatMap((step) => {
        const kind = stepKind(step);
        return kind ? [{ steps: [step], kind }] : [];
      });
      const linear = !pipeline.steps.some((s) => s.dependsOn.length > 0);
      const fit = fitContainers(pipeline.services.length, units, linear);
      const services = pipeline.services.map(servicePorts);
      const shared = segments(withFilesShared(pipeline));
      out.push({
        file: file.name,
        pipeline: pipeline.name,
        containers: { unpacked: 1 + pipeline.services.length + units.length, packed: fit.after },
        services,
        blockers: cutBlockers(pipeline),
        portClashes: portClashes(services),
        ifFilesShared:
          shared.kind === 'split'
            ? { segments: shared.segments.length, serviceTask: shared.serviceTask?.size ?? 0 }
            : { refused: shared.kind === 'impossible' ? shared.reason : `it fits in one task of ${MAX_CONTAINERS}` },
      });
    }
  }
  return out;
}

/** One line per refused pipeline, then pipelines that say the same grouped, for the bench. */
export function formatRefusals(refusals: readonly CutRefusal[]): string {
  const blocker = (b: ServiceTaskBlocker): string => {
    if (b.kind === 'workspace') return `${b.service} reads ${b.dir} (${b.where.replace(/^its /, '')})`;
    if (b.kind === 'volume') return `${b.service} shares volume ${b.volume} with ${b.steps.map((s) => s.name).join(', ')}`;
    return `detached ${b.detached} after ${b.after}`;
  };
  const shape = (r: CutRefusal): string =>
    [
      `containers ${r.containers.unpacked} (packed ${r.containers.packed}) of ${MAX_CONTAINERS}`,
      `services: ${r.services.map((s) => `${s.service}=${s.image} :${s.ports.join(',') || '?'} (${s.source})`).join('; ')}`,
      `in the way: ${r.blockers.map(blocker).join('; ')}`,
      `same port in one task: ${r.portClashes.map((c) => `${c.port} (${c.services.join(', ')})`).join('; ') || 'none'}`,
      `if the service task saw the files: ${'segments' in r.ifFilesShared ? `${r.ifFilesShared.segments} segments beside a service task of ${r.ifFilesShared.serviceTask} containers` : `still refused: ${r.ifFilesShared.refused}`}`,
    ].join('\n    ');
  const groups = new Map<string, CutRefusal[]>();
  for (const r of refusals) groups.set(shape(r), [...(groups.get(shape(r)) ?? []), r]);
  const lines = [`${refusals.length} pipelines over ECS's ${MAX_CONTAINERS} containers whose cut into consecutive tasks is refused:`];
  for (const [text, list] of groups) {
    lines.push(`  ${list.length} × ${list[0]!.file}: ${list.map((r) => r.pipeline).join(', ')}`, `    ${text}`);
  }
  return lines.join('\n');
}
