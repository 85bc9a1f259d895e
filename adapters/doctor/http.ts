// Delivers one signed webhook to the stack's webhook URL as a Git host would, and reports
// the answer (or why there was none) for core/doctor/judge.ts.

import type { HttpObservation } from '../../core/doctor/judge.js';
import type { SignedDelivery } from '../../core/doctor/ping.js';

export async function deliver(url: string, delivery: SignedDelivery, timeoutMs = 15_000): Promise<HttpObservation> {
  try {
    const res = await fetch(url, { method: 'POST', headers: delivery.headers, body: delivery.body, signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, body: await res.text() };
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return { error: [(err as Error).message, cause?.code ?? cause?.message].filter(Boolean).join(': ') };
  }
}
