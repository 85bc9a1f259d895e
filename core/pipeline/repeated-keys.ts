// What Drone makes of a key written twice in one map, when both values are maps.
//
// Drone decodes each document with go-yaml v2's non-strict Unmarshal (github.com/buildkite/yaml
// v2.1.0, the version in drone-yaml's, runner-go's and drone-runner-docker's go.mod) into its Go
// types (drone-runner-docker engine/resource/pipeline.go; runner-go manifest/*.go). A repeated key
// is an error only in strict mode (decode.go, setMapIndex); otherwise each occurrence is decoded
// in turn into the same destination, and what survives depends on that destination (decode.go):
// - a struct field of struct type: mappingStruct decodes the second map into the struct the
//   first filled, so fields from both stay and a field written in both takes the later value
//   (decoded the same way, one level further down);
// - a struct field of map type (`node`, `environment`, `settings`): mapping() reuses the map
//   when it is not nil, so keys from both stay and a key in both takes the later value;
// - a value inside a Go map (an `environment` or `settings` entry, anything inside a setting):
//   mapping() decodes every value into a fresh element, so the later value replaces the earlier;
// - a condition (`branch:` inside `when:`/`trigger:`): runner-go manifest/cond.go's UnmarshalYAML
//   sets include and exclude anew, so the later replaces the earlier, except that a single
//   pattern (`branch: main`) sets only include and leaves an earlier map's exclude in place.

/** How a repeated key whose values are both maps is read. */
export type RepeatedMapRule = 'merge' | 'replace' | 'condition';

/** One step of a path from a document's root: a map key, or LIST_ITEM for any item of a list. */
export const LIST_ITEM = '[]';

const CONDITIONS = new Set(['trigger', 'when']);
/** Struct fields of a pipeline document (resource.Pipeline, manifest.Secret) that hold a struct or a map. */
const DOCUMENT_FIELDS = new Set(['clone', 'concurrency', 'platform', 'workspace', 'trigger', 'node', 'environment', 'get', 'resources']);
/** Struct fields of a step or service (resource.Step; `ready` and `resources` are Slipway's own structs). */
const STEP_FIELDS = new Set(['environment', 'settings', 'when', 'ready', 'resources']);
/** Struct fields of a `volumes:` item (resource.Volume: `temp` and `host` are pointers to structs). */
const VOLUME_FIELDS = new Set(['temp', 'host']);

/** The rule for `key` written twice in the map at `parent` (a path from the document's root). */
export function repeatedMapRule(parent: readonly string[], key: string): RepeatedMapRule {
  if (!isStruct(parent)) return 'replace';
  const last = parent[parent.length - 1];
  if (last !== undefined && CONDITIONS.has(last)) return 'condition';
  return fieldsOf(parent)?.has(key) ? 'merge' : 'replace';
}

function fieldsOf(path: readonly string[]): ReadonlySet<string> | undefined {
  if (path.length === 0) return DOCUMENT_FIELDS;
  if (isStepPath(path)) return STEP_FIELDS;
  if (path.length === 2 && path[0] === 'volumes' && path[1] === LIST_ITEM) return VOLUME_FIELDS;
  return undefined;
}

function isStepPath(path: readonly string[]): boolean {
  return path.length === 2 && (path[0] === 'steps' || path[0] === 'services') && path[1] === LIST_ITEM;
}

/** Whether Drone decodes the map at `path` into a Go struct (whose fields a second map merges into). */
function isStruct(path: readonly string[]): boolean {
  if (fieldsOf(path)) return true;
  const parent = path.slice(0, -1);
  const key = path[path.length - 1]!;
  // `when:` / `trigger:` (manifest.Conditions) and the scalar-only structs (clone, platform, …).
  if (fieldsOf(parent)?.has(key)) return !['node', 'environment', 'settings'].includes(key);
  return false;
}
