// Registry stand-ins for a test file: each is stopped after the test that started it.
import { afterEach } from 'vitest';
import { startRegistryStandIn, type RegistryStandIn, type RegistryStandInOptions } from '../support/registry-stand-in.js';

/** A function that starts a stand-in; registers the file's afterEach that stops them. */
export function registryStandIns(): (options?: RegistryStandInOptions) => Promise<RegistryStandIn> {
  let started: RegistryStandIn[] = [];
  afterEach(async () => {
    await Promise.all(started.map((r) => r.stop()));
    started = [];
  });
  return async (options) => {
    const r = await startRegistryStandIn(options);
    started.push(r);
    return r;
  };
}
