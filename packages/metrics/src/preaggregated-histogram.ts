/**
 * A Prometheus histogram fed with pre-aggregated bucket counts (from classifier workers) instead of
 * single observations. Registered on a prom-client Registry, which only needs `name`, `help`,
 * `type`, `aggregator` and `get()`.
 */
import type { Registry } from "prom-client";

interface Series {
  labels: Record<string, string>;
  buckets: number[];
  sum: number;
  count: number;
}

export class PreaggregatedHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  readonly #series = new Map<string, Series>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    readonly upperBounds: readonly number[],
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }

  /** Adds non-cumulative bucket counts (`buckets.length === upperBounds.length + 1`, last is +Inf). */
  add(labelValues: readonly string[], buckets: readonly number[], sum: number, count: number): void {
    const key = labelValues.join("\u0000");
    let s = this.#series.get(key);
    if (!s) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((n, i) => (labels[n] = labelValues[i] ?? ""));
      s = { labels, buckets: new Array<number>(this.upperBounds.length + 1).fill(0), sum: 0, count: 0 };
      this.#series.set(key, s);
    }
    for (let i = 0; i < s.buckets.length; i++) s.buckets[i]! += buckets[i] ?? 0;
    s.sum += sum;
    s.count += count;
  }

  get() {
    const values: { value: number; labels: Record<string, string | number>; metricName: string }[] = [];
    for (const s of this.#series.values()) {
      let cumulative = 0;
      this.upperBounds.forEach((le, i) => {
        cumulative += s.buckets[i]!;
        values.push({ value: cumulative, labels: { ...s.labels, le }, metricName: `${this.name}_bucket` });
      });
      cumulative += s.buckets[this.upperBounds.length]!;
      values.push({
        value: cumulative,
        labels: { ...s.labels, le: "+Inf" },
        metricName: `${this.name}_bucket`,
      });
      values.push({ value: s.sum, labels: s.labels, metricName: `${this.name}_sum` });
      values.push({ value: s.count, labels: s.labels, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
