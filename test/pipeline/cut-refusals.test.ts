// The facts about the corpus pipelines whose cut into consecutive tasks is refused
// (bench/lib/cut-refusals.ts, `npm run bench -- cut-refusals`), which
// docs/design/split-pipelines.md ("What would run owncloud's 24") rests on.
import { describe, expect, it } from 'vitest';
import { cutRefusals, portClashes, servicePorts } from '../../bench/lib/cut-refusals.js';
import { readCorpus } from '../../bench/lib/corpus.js';
import { loadManifest } from '../../core/pipeline/load.js';

const refusals = cutRefusals(readCorpus());

describe('the pipelines the cut refuses', () => {
  it("are owncloud/web's 24 browser test pipelines, each 14 containers (12 packed)", () => {
    expect(refusals).toHaveLength(24);
    for (const r of refusals) {
      expect(r.file).toBe('owncloud__web.yml');
      expect(r.containers).toEqual({ unpacked: 14, packed: 12 });
    }
  });

  it('each has two web servers that would listen on 80 and 443 in one network namespace', () => {
    for (const r of refusals) {
      expect(r.services.map((s) => [s.service, s.ports, s.source])).toEqual([
        ['phoenix', [80, 443], 'image sources'],
        ['owncloud', [80, 443], 'image sources'],
        ['selenium', [4444, 5900], 'image sources'],
        ['mysql', [3306], 'known image'],
      ]);
      expect(r.portClashes).toEqual([
        { port: 80, services: ['phoenix', 'owncloud'] },
        { port: 443, services: ['phoenix', 'owncloud'] },
      ]);
    }
  });

  it('each is kept from a service task by two document roots in the workspace, a shared volume and a late detached step', () => {
    for (const r of refusals) {
      expect(r.blockers).toEqual([
        { kind: 'workspace', service: 'phoenix', dir: '/var/www/owncloud', where: 'its environment APACHE_WEBROOT=/var/www/owncloud/phoenix/dist' },
        { kind: 'workspace', service: 'owncloud', dir: '/var/www/owncloud', where: 'its environment APACHE_WEBROOT=/var/www/owncloud/server/' },
        { kind: 'volume', service: 'selenium', detached: false, volume: 'uploads', path: '/uploads', steps: [{ name: 'copy-files-for-upload', path: '/filesForUpload' }] },
        { kind: 'late-detached', detached: 'owncloud-log', after: 'setup-server-phoenix' },
      ]);
    }
  });

  it('each would need one step task beside a service task of 6 containers if the service task saw the steps files', () => {
    for (const r of refusals) expect(r.ifFilesShared).toEqual({ segments: 1, serviceTask: 6 });
  });
});

describe('servicePorts', () => {
  const services = (yaml: string) => loadManifest('.drone.yml', `kind: pipeline\nname: p\nsteps:\n  - name: s\n    image: alpine\n    commands: [true]\nservices:\n${yaml}`).pipelines[0]!.services;

  it('reads apache on owncloudci/php only where the service runs apachectl: otherwise the image is a toolbox with no server', () => {
    const [web, tool] = services('  - name: web\n    image: owncloudci/php:7.4\n    command: [apachectl, -D, FOREGROUND]\n  - name: tool\n    image: owncloudci/php:7.4\n    commands: [php -S 0.0.0.0:8080]\n');
    expect(servicePorts(web!)).toMatchObject({ ports: [80, 443], source: 'image sources' });
    expect(servicePorts(tool!)).toMatchObject({ ports: [], source: 'unknown' });
  });

  it('prefers the ports the file declares, then the ports Slipway knows for the image', () => {
    const [declared, known] = services('  - name: a\n    image: owncloudci/php:7.1\n    command: [apachectl]\n    ready: { ports: [8080] }\n  - name: b\n    image: postgres:15\n');
    expect(servicePorts(declared!)).toMatchObject({ ports: [8080], source: 'declared' });
    expect(servicePorts(known!)).toMatchObject({ ports: [5432], source: 'known image' });
  });

  it('finds a port clash only between different services', () => {
    expect(portClashes([{ service: 'a', image: 'x', ports: [80, 80], source: 'declared' }])).toEqual([]);
    expect(portClashes([{ service: 'a', image: 'x', ports: [80], source: 'declared' }, { service: 'b', image: 'y', ports: [80, 81], source: 'declared' }])).toEqual([{ port: 80, services: ['a', 'b'] }]);
  });
});
