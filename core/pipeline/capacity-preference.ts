// Where a pipeline asks to run (`node: { capacity }`, a repository's `capacity` setting): the
// values alone, without the capacity logic (capacity.ts), so that the dashboard can offer them.

export type CapacityPreference = 'warm' | 'fargate';
export const CAPACITY_PREFERENCES: readonly CapacityPreference[] = ['warm', 'fargate'];
/** Where a pipeline runs when neither its `node:` nor its repository says. */
export const DEFAULT_CAPACITY: CapacityPreference = 'fargate';
