#!/usr/bin/env node
// Runs the TypeScript CLI directly, so `npx slipway` works right after `npm ci`
// with no build step to remember.
import { register } from 'tsx/esm/api';

// The AWS SDK warns on every command that its 2027 releases will need Node 22; this CLI
// runs on Node 20 by design, so the nine lines say nothing a user can act on.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

register();
await import('./slipway.ts');
