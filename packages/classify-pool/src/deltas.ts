/**
 * Pre-aggregated metric deltas a worker returns with each batch: one entry per distinct label set,
 * never one per record, so the main thread's work is proportional to label sets, not traffic.
 */

/** Request-duration buckets, seconds (upper bounds; +Inf implied). */
export const DURATION_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60,
] as const;

/** Histogram observations for one label set: non-cumulative bucket counts (last = +Inf), sum, count. */
export interface HistogramDelta {
  readonly labels: readonly string[];
  readonly buckets: number[];
  sum: number;
  count: number;
}

/** Everything the metrics need from one batch. */
export interface MetricDeltas {
  /** [gateway, cause, origin, status_class, count] */
  readonly requests: [string, string, string, string, number][];
  /** labels [gateway, listener]; internal traffic excluded. */
  readonly duration: HistogramDelta[];
  /** labels [gateway, backend_pool]; only requests that reached a backend. */
  readonly backendLatency: HistogramDelta[];
  /** [gateway, action, count] */
  readonly firewall: [string, string, number][];
  /** [kind, outcome, count]; outcome is stored, dead_lettered or skipped. */
  readonly records: [string, string, number][];
  /** [reason, count] */
  readonly deadLetters: [string, number][];
}

type CounterMetric = "requests" | "firewall" | "records" | "deadLetters";

/** Labels per counter metric (the arity of its key). */
const ARITY: Readonly<Record<CounterMetric, number>> = {
  requests: 4,
  firewall: 2,
  records: 2,
  deadLetters: 1,
};

/**
 * Accumulates deltas inside a worker. Called for every record, so labels are passed as arguments
 * (no array or join per call); the key array is built once per distinct label set.
 */
export class DeltaBuilder {
  readonly #counters = new Map<string, { metric: CounterMetric; key: string[]; n: number }>();
  readonly #histograms = new Map<string, HistogramDelta & { metric: string }>();

  count(metric: CounterMetric, a: string, b = "", c = "", d = ""): void {
    const id = `${metric}\u0000${a}\u0000${b}\u0000${c}\u0000${d}`;
    const entry = this.#counters.get(id);
    if (entry) entry.n++;
    else this.#counters.set(id, { metric, key: [a, b, c, d].slice(0, ARITY[metric]), n: 1 });
  }

  observe(metric: "duration" | "backendLatency", a: string, b: string, value: number): void {
    const id = `${metric}\u0000${a}\u0000${b}`;
    let h = this.#histograms.get(id);
    if (!h) {
      h = {
        metric,
        labels: [a, b],
        buckets: new Array<number>(DURATION_BUCKETS.length + 1).fill(0),
        sum: 0,
        count: 0,
      };
      this.#histograms.set(id, h);
    }
    let i = 0;
    while (i < DURATION_BUCKETS.length && value > DURATION_BUCKETS[i]!) i++;
    h.buckets[i]!++;
    h.sum += value;
    h.count++;
  }

  build(): MetricDeltas {
    const out: MetricDeltas = {
      requests: [],
      duration: [],
      backendLatency: [],
      firewall: [],
      records: [],
      deadLetters: [],
    };
    for (const { metric, key, n } of this.#counters.values()) (out[metric] as unknown[][]).push([...key, n]);
    for (const h of this.#histograms.values()) {
      out[h.metric as "duration" | "backendLatency"].push({
        labels: h.labels,
        buckets: h.buckets,
        sum: h.sum,
        count: h.count,
      });
    }
    return out;
  }
}
