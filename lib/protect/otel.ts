// Optional: the stats() counters as OpenTelemetry metrics. @opentelemetry/api
// is an optional peer dependency: only this entry point loads it.
import type { BatchObservableCallback, Meter } from '@opentelemetry/api';
import { stats } from './events';

/**
 * Observes the process-wide counters on `meter` (by default the global
 * meter provider's 'tcp-keepalive' meter) at each collection:
 * - tcp_keepalive.sockets.protected (counter)
 * - tcp_keepalive.sockets.live (up-down counter)
 * - tcp_keepalive.sockets.unprotected (counter, attribute `reason`)
 * - tcp_keepalive.deaths (counter, attribute `cause`)
 * Returns a function that stops observing.
 */
export function exportMetrics(meter?: Meter): () => void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const used: Meter = meter ?? (require('@opentelemetry/api') as typeof import('@opentelemetry/api')).metrics.getMeter('tcp-keepalive');
  const protectedCount = used.createObservableCounter('tcp_keepalive.sockets.protected', { description: 'TCP sockets the policy was applied to' });
  const live = used.createObservableUpDownCounter('tcp_keepalive.sockets.live', { description: 'protected TCP sockets still open' });
  const unprotected = used.createObservableCounter('tcp_keepalive.sockets.unprotected', { description: 'TCP sockets left alone, by reason' });
  const deaths = used.createObservableCounter('tcp_keepalive.deaths', { description: 'protected sockets that died, by cause' });
  const observe: BatchObservableCallback = (result) => {
    const now = stats();
    result.observe(protectedCount, now.protected);
    result.observe(live, now.live);
    for (const [reason, value] of Object.entries(now.unprotected)) result.observe(unprotected, value, { reason });
    for (const [cause, value] of Object.entries(now.deaths)) result.observe(deaths, value, { cause });
  };
  const observables = [protectedCount, live, unprotected, deaths];
  used.addBatchObservableCallback(observe, observables);
  return () => used.removeBatchObservableCallback(observe, observables);
}
