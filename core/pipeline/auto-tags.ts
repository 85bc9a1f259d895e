// The tags `auto_tag: true` gives an image, as drone-plugins/drone-docker's tags.go and
// cmd/drone-docker/main.go decide them:
//   - a tag ref (`refs/tags/…`): its version without a leading `v`, parsed as a semantic
//     version (coreos/go-semver: MAJOR.MINOR.PATCH, then optional `-prerelease` and
//     `+metadata`). A pre-release or metadata version is tagged with itself alone; otherwise
//     `MAJOR`, `MAJOR.MINOR`, `MAJOR.MINOR.PATCH` (without `MAJOR` when it is 0), each number
//     padded with zeros to the width it was written with. A tag that is not such a version
//     fails the step ("invalid semantic version"), as the plugin does.
//   - the default branch: `latest`.
//   - any other ref: nothing is built (the plugin logs "skipping automated docker build").
// `auto_tag_suffix` is appended to each tag (`1.2-suffix`), and replaces `latest`.

export type AutoTags = { kind: 'tags'; tags: string[] } | { kind: 'skip'; reason: string } | { kind: 'error'; message: string };

const TAG_PREFIX = 'refs/tags/';
const HEAD_PREFIX = 'refs/heads/';

export function autoTags(ref: string, defaultBranch: string, suffix: string): AutoTags {
  const isTag = ref.startsWith(TAG_PREFIX);
  if (!isTag && ref.replace(/^refs\/heads\//, '') !== defaultBranch) {
    return { kind: 'skip', reason: `auto_tag: skipping the image build for ${ref}: it is neither a tag nor the default branch (${HEAD_PREFIX}${defaultBranch})` };
  }
  const tags = defaultTags(ref);
  if ('error' in tags) return { kind: 'error', message: tags.error };
  if (suffix === '') return { kind: 'tags', tags: tags.tags };
  return { kind: 'tags', tags: tags.tags.map((t) => (t === 'latest' ? suffix : `${t}-${suffix}`)) };
}

function defaultTags(ref: string): { tags: string[] } | { error: string } {
  if (!ref.startsWith(TAG_PREFIX)) return { tags: ['latest'] };
  const text = ref.slice(TAG_PREFIX.length).replace(/^v/, '');
  const version = parseSemver(text);
  if (!version) {
    return { error: `auto_tag: the tag ${JSON.stringify(text)} is not a semantic version (MAJOR.MINOR.PATCH, e.g. v1.2.3), so no tags can be derived from it: tag with a version, or set tags: instead of auto_tag` };
  }
  if (version.prerelease !== '' || version.metadata !== '') return { tags: [version.canonical] };
  const [major, minor, patch] = version.parts;
  const pad = (n: bigint, width: number) => n.toString().padStart(width, '0');
  const M = pad(major.value, major.width);
  const m = `${M}.${pad(minor.value, minor.width)}`;
  const p = `${m}.${pad(patch.value, patch.width)}`;
  return { tags: major.value === 0n ? [m, p] : [M, m, p] };
}

interface Semver {
  parts: [{ value: bigint; width: number }, { value: bigint; width: number }, { value: bigint; width: number }];
  prerelease: string;
  metadata: string;
  /** As go-semver prints it (Version.String): numbers without padding. */
  canonical: string;
}

/** go-semver's Version.Set: split `+metadata`, then `-prerelease`, then exactly three decimal numbers (strconv.ParseInt, 64 bits). */
function parseSemver(text: string): Semver | undefined {
  const plus = text.indexOf('+');
  const metadata = plus >= 0 ? text.slice(plus + 1) : '';
  const rest = plus >= 0 ? text.slice(0, plus) : text;
  const dash = rest.indexOf('-');
  const prerelease = dash >= 0 ? rest.slice(dash + 1) : '';
  const core = dash >= 0 ? rest.slice(0, dash) : rest;
  const dotted = core.split('.');
  if (dotted.length !== 3) return undefined;
  if (!dotted.every((d) => /^\d+$/.test(d))) return undefined;
  // go-semver checks nothing more: any pre-release or metadata text is accepted as written.
  const parts = dotted.map((d) => ({ value: BigInt(d), width: d.length })) as Semver['parts'];
  if (parts.some((p) => p.value > 2n ** 63n - 1n)) return undefined;
  const canonical = `${parts.map((p) => p.value.toString()).join('.')}${prerelease ? `-${prerelease}` : ''}${metadata ? `+${metadata}` : ''}`;
  return { parts, prerelease, metadata, canonical };
}
