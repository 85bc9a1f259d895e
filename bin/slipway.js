#!/usr/bin/env node
// Runs the TypeScript CLI directly, so `npx slipway` works right after `npm ci`
// with no build step to remember.
import { register } from 'tsx/esm/api';

register();
await import('./slipway.ts');
