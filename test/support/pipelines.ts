// `.drone.yml` text for tests, written as data: one docker pipeline document per object, in
// Drone's own keys (https://docs.drone.io/pipeline/docker/syntax/), with `kind: pipeline`
// and `type: docker` added and the documents joined by `---` as Drone reads them.

import { stringify } from 'yaml';

export interface StepSpec {
  name: string;
  image: string;
  commands?: string[];
  [key: string]: unknown;
}

export interface PipelineSpec {
  name: string;
  steps: StepSpec[];
  depends_on?: string[];
  trigger?: Record<string, unknown>;
  services?: StepSpec[];
  [key: string]: unknown;
}

/** A step that runs `commands` in alpine unless `more` says otherwise (`image`, `environment`, …). */
export function step(name: string, commands: string[], more: Partial<StepSpec> = {}): StepSpec {
  return { name, image: 'alpine:3', commands, ...more };
}

/** The pipelines as one `.drone.yml`. */
export function droneYaml(...pipelines: PipelineSpec[]): string {
  return pipelines.map((p) => stringify({ kind: 'pipeline', type: 'docker', ...p })).join('---\n');
}
