// The lists of images EC2 instances pull ahead at boot (lib/ec2-prepull.sh), kept current by
// the autoscaler when it scales a group out: the instances it is about to launch (and those
// that refill a warm pool after it) read the list then. From the stages that ran on EC2 in the
// last days and those waiting for it now, their stored jobs' task definitions give the images
// (as the tasks pull them: through the pull-through cache), ECR gives the sizes of the likely
// ones (adapters/ecr/image-sizes.ts), core/scaling/common-images.ts chooses, the PrepullLists
// port writes (SSM, adapters/ssm/prepull-lists.ts).
//
// Never in the way of scaling: the refresh runs before the group is resized, at most once a
// minute, and a failure is logged and left to the next scale-out (the instance then pulls the
// list as it was: the agent image at least, as the stack wrote it).

import type { RecentRecordsReader } from '../../core/builds/ports.js';
import { stageKey } from '../../core/builds/types.js';
import { ec2ArchOf } from '../../core/pipeline/ec2-task.js';
import type { Arch } from '../../core/pipeline/types.js';
import { commonImages, imagesOfTaskDefinition, sizeCandidates, type ImageSizes, type ImageUse, type PrepullLists, type PullableImages } from '../../core/scaling/common-images.js';
import { classifyAwsError, describeAwsError } from '../../core/util/aws-errors.js';
import type { AutoscalerDeps, Waiting } from './deps.js';

export interface PrepullDeps {
  lists: PrepullLists;
  /** Recent builds' stages (adapters/dynamodb/recent-records.ts). */
  recent: RecentRecordsReader;
  /** The agent image of each architecture: first on every list. */
  agentImages: Partial<Record<Arch, string>>;
  pullable: PullableImages;
  /** The images' compressed sizes in ECR; absent: sizes are not checked (count and characters still are). */
  sizes?: ImageSizes;
}

/** How far back the stages that ran on EC2 count. */
export const PREPULL_WINDOW_MS = 7 * 24 * 3600_000;
/** The newest stages that ran on EC2 read for their images (one BatchGetItem per 100). */
export const PREPULL_MAX_STAGES = 300;
/** A burst of scale-outs refreshes the lists once. */
export const PREPULL_REFRESH_MS = 60_000;

// Kept between passes of a warm Lambda (reserved concurrency 1).
let lastRefresh: number | undefined;

/** Tests: forget when the lists were last refreshed. */
export function resetPrepullState(): void {
  lastRefresh = undefined;
}

/**
 * Refreshes the lists of `arches` (those scaling out) unless that was done within
 * PREPULL_REFRESH_MS. Never throws: what failed is logged, and scaling goes on.
 */
export async function refreshPrepullLists(deps: AutoscalerDeps, arches: readonly Arch[], waiting: readonly Waiting[]): Promise<{ arch: Arch; images: number; result: 'written' | 'unchanged' }[] | undefined> {
  const prepull = deps.prepull;
  if (!prepull || arches.length === 0) return undefined;
  const now = deps.now();
  if (lastRefresh !== undefined && now - lastRefresh < PREPULL_REFRESH_MS) return undefined;
  lastRefresh = now;
  try {
    const uses = await recentUses(deps, prepull, now, waiting);
    const input = { uses, arches, agentImages: prepull.agentImages, pullable: prepull.pullable };
    const sizes = prepull.sizes ? await prepull.sizes.sizes(sizeCandidates(input)) : undefined;
    const lists = commonImages({ ...input, ...(sizes ? { sizes } : {}) });
    const out: { arch: Arch; images: number; result: 'written' | 'unchanged' }[] = [];
    for (const arch of arches) {
      const images = lists[arch] ?? [];
      if (images.length === 0) continue;
      out.push({ arch, images: images.length, result: await prepull.lists.write(arch, images) });
    }
    if (out.some((o) => o.result === 'written')) deps.log('prepull lists written', { lists: out, stagesRead: uses.length });
    return out;
  } catch (err) {
    const info = classifyAwsError(err);
    deps.log('prepull lists not refreshed: new instances pull the lists as they were; the next scale-out tries again', { error: describeAwsError(info), kind: info.kind });
    return undefined;
  }
}

async function recentUses(deps: AutoscalerDeps, prepull: PrepullDeps, now: number, waiting: readonly Waiting[]): Promise<ImageUse[]> {
  const { stages } = await prepull.recent(now - PREPULL_WINDOW_MS, { builds: 2_000, stages: 5_000 });
  const ran = stages
    .filter((s) => s.capacity === 'EC2' && s.startedAt !== undefined)
    .sort((a, b) => b.startedAt! - a.startedAt!)
    .slice(0, PREPULL_MAX_STAGES);
  const jobs = ran.length > 0 ? await deps.stages.getStageJobs(ran.map((s) => ({ buildId: s.buildId, stageNumber: s.number }))) : new Map();
  const uses: ImageUse[] = [];
  for (const s of ran) {
    const job = jobs.get(stageKey(s.buildId, s.number));
    const arch = job ? ec2ArchOf(job.taskDefinition) : undefined;
    if (job && arch) uses.push({ repo: s.repo, arch, images: imagesOfTaskDefinition(job.taskDefinition), at: s.startedAt! });
  }
  for (const w of waiting) {
    const arch = ec2ArchOf(w.job.taskDefinition);
    if (arch) uses.push({ repo: w.job.repo, arch, images: imagesOfTaskDefinition(w.job.taskDefinition), at: w.stage.queuedAt ?? w.job.queuedAt });
  }
  return uses;
}
