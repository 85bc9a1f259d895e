import { describe, expect, it } from 'vitest';
import { parseImageReference } from '../../core/images/reference.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('parseImageReference', () => {
  const valid: Array<[string, { domain: string; host: string; scheme: 'http' | 'https'; repository: string; tag?: string; digest?: string; canonical: string }]> = [
    ['alpine', { domain: 'docker.io', host: 'registry-1.docker.io', scheme: 'https', repository: 'library/alpine', tag: 'latest', canonical: 'docker.io/library/alpine:latest' }],
    ['plugins/s3:1', { domain: 'docker.io', host: 'registry-1.docker.io', scheme: 'https', repository: 'plugins/s3', tag: '1', canonical: 'docker.io/plugins/s3:1' }],
    ['docker.io/library/node:20', { domain: 'docker.io', host: 'registry-1.docker.io', scheme: 'https', repository: 'library/node', tag: '20', canonical: 'docker.io/library/node:20' }],
    ['docker.io/node', { domain: 'docker.io', host: 'registry-1.docker.io', scheme: 'https', repository: 'library/node', tag: 'latest', canonical: 'docker.io/library/node:latest' }],
    ['index.docker.io/plugins/s3', { domain: 'docker.io', host: 'registry-1.docker.io', scheme: 'https', repository: 'plugins/s3', tag: 'latest', canonical: 'docker.io/plugins/s3:latest' }],
    [`ghcr.io/o/r@${D}`, { domain: 'ghcr.io', host: 'ghcr.io', scheme: 'https', repository: 'o/r', digest: D, canonical: `ghcr.io/o/r@${D}` }],
    ['localhost:5000/a/b:tag', { domain: 'localhost:5000', host: 'localhost:5000', scheme: 'http', repository: 'a/b', tag: 'tag', canonical: 'localhost:5000/a/b:tag' }],
    ['localhost/a', { domain: 'localhost', host: 'localhost', scheme: 'http', repository: 'a', tag: 'latest', canonical: 'localhost/a:latest' }],
    ['127.0.0.1:5000/x', { domain: '127.0.0.1:5000', host: '127.0.0.1:5000', scheme: 'http', repository: 'x', tag: 'latest', canonical: '127.0.0.1:5000/x:latest' }],
    ['[::1]:5000/x:2', { domain: '[::1]:5000', host: '[::1]:5000', scheme: 'http', repository: 'x', tag: '2', canonical: '[::1]:5000/x:2' }],
    ['registry.example.com:8443/x', { domain: 'registry.example.com:8443', host: 'registry.example.com:8443', scheme: 'https', repository: 'x', tag: 'latest', canonical: 'registry.example.com:8443/x:latest' }],
    ['public.ecr.aws/x/y', { domain: 'public.ecr.aws', host: 'public.ecr.aws', scheme: 'https', repository: 'x/y', tag: 'latest', canonical: 'public.ecr.aws/x/y:latest' }],
    ['123456789012.dkr.ecr.eu-west-1.amazonaws.com/repo:tag', { domain: '123456789012.dkr.ecr.eu-west-1.amazonaws.com', host: '123456789012.dkr.ecr.eu-west-1.amazonaws.com', scheme: 'https', repository: 'repo', tag: 'tag', canonical: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/repo:tag' }],
    // Tag and digest together: Docker keeps both and pulls by digest.
    [`node:20@${D}`, { domain: 'docker.io', host: 'registry-1.docker.io', scheme: 'https', repository: 'library/node', tag: '20', digest: D, canonical: `docker.io/library/node@${D}` }],
    // A first segment without `.`/`:` that is not `localhost` is a Docker Hub namespace.
    ['myhost/app', { domain: 'docker.io', host: 'registry-1.docker.io', scheme: 'https', repository: 'myhost/app', tag: 'latest', canonical: 'docker.io/myhost/app:latest' }],
    ['a__b/c-d.e_f---g:v1.2-rc_3', { domain: 'docker.io', host: 'registry-1.docker.io', scheme: 'https', repository: 'a__b/c-d.e_f---g', tag: 'v1.2-rc_3', canonical: 'docker.io/a__b/c-d.e_f---g:v1.2-rc_3' }],
  ];
  it.each(valid)('%s', (text, expected) => {
    const parsed = parseImageReference(text);
    expect(parsed).toEqual({ ok: true, ref: { original: text, reference: expected.digest ?? expected.tag, ...expected } });
  });

  const invalid: Array<[string, RegExp]> = [
    ['', /expected an image name/],
    ['Alpine', /repository "library\/Alpine" must be lower case/],
    ['ghcr.io/Owner/repo', /repository "Owner\/repo" must be lower case/],
    ['alpine@sha256:abc', /digest "sha256:abc" should be sha256:<64 lower-case hex>/],
    [`alpine@md5:${'a'.repeat(32)}`, /digest .* should be sha256/],
    [`alpine@sha256:${'A'.repeat(64)}`, /digest .* should be sha256/],
    [`a@${D}@${D}`, /at most one `@`/],
    ['alpine:', /tag "" should be/],
    ['alpine:-x', /tag "-x" should be/],
    [`alpine:${'x'.repeat(129)}`, /tag ".*" should be 1–128/],
    [':tag', /repository name is empty/],
    ['ghcr.io//x', /empty path component/],
    ['ghcr.io/a-', /component "a-" should be/],
    ['a b', /whitespace/],
    ['bad_host.io:port/x', /registry "bad_host.io:port" should be a host name/],
    [`${'a'.repeat(300)}`, /longer than 255/],
  ];
  it.each(invalid)('rejects %j', (text, message) => {
    const parsed = parseImageReference(text);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.error.startsWith(`image "${text}": invalid reference: `)).toBe(true);
    expect(parsed.error).toMatch(message);
  });
});
