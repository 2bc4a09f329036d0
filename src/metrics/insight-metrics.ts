import type { AnalyserObserver } from '../insight/analyser';
import type { Metrics } from './metrics';

/** The analyser's reports as metrics. */
export function insightMetrics(metrics: Metrics): AnalyserObserver {
  return {
    queueDepth: (n) => metrics.insightQueueDepth.set(n),
    analysed(record) {
      metrics.insightLayersAnalysed.inc({ outcome: record.outcome });
      // A blob that is not a layer is read for its first bytes only.
      if (record.outcome !== 'not-a-layer') metrics.insightBytesAnalysed.inc(record.compressedSize);
      for (const finding of record.findings) metrics.insightFindings.inc({ rule: finding.rule });
      metrics.insightAnalysisDuration.observe(record.durationMs / 1000);
    },
  };
}
