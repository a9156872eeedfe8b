/**
 * Cardinality flood (issue 10): a million distinct gateways, listeners and backend pools reach the
 * metrics. Gateway, listener and backend-pool labels are capped (`labelCap`, default 50): the number
 * of series per metric must not depend on the number of distinct values, `other` must take the rest,
 * `gatewatch_label_overflow_total` must count every replaced value, and the exposition and the heap
 * must stay bounded. The million goes in as synthetic worker deltas (what `applyDeltas` receives);
 * 50,000 distinct values also go the real way, through classifyBatch.
 */
import { afterAll, describe, expect, it } from "vitest";
import {
  DURATION_BUCKETS,
  classifyBatch,
  packBodies,
  type HistogramDelta,
  type MetricDeltas,
} from "@gatewatch/classify-pool";
import { GatewatchMetrics, MetricNames, OTHER } from "@gatewatch/metrics";

const DISTINCT = 1_000_000;
const CHUNK = 10_000;
const MB = 1024 * 1024;
/** Generous: the point is that growth does not scale with DISTINCT (a leak would be gigabytes). */
const MEMORY_BOUND = 200 * MB;
const CAPPED = {
  gateway: [
    MetricNames.requests,
    MetricNames.firewallActions,
    MetricNames.requestDuration,
    MetricNames.backendLatency,
  ],
  listener: [MetricNames.requestDuration],
  backend_pool: [MetricNames.backendLatency],
} as const;
type CappedLabel = keyof typeof CAPPED;

const figures: string[] = [];
afterAll(() => process.stdout.write(`cardinality flood:\n${figures.join("\n")}\n`));

interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"/g;

function samples(body: string): Sample[] {
  const out: Sample[] = [];
  for (const line of body.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`bad sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? "").matchAll(LABEL)) labels[k!] = v!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** Series of a metric: for histograms one per `_count` sample, else one per sample. */
function series(all: readonly Sample[], metric: string): Sample[] {
  const histogram = metric === MetricNames.requestDuration || metric === MetricNames.backendLatency;
  return all.filter((s) => s.name === (histogram ? `${metric}_count` : metric));
}

function labelValues(all: readonly Sample[], label: CappedLabel): Set<string> {
  const values = new Set<string>();
  for (const metric of CAPPED[label]) for (const s of series(all, metric)) values.add(s.labels[label]!);
  return values;
}

function overflow(all: readonly Sample[], label: CappedLabel): number {
  return all.find((s) => s.name === MetricNames.labelOverflow && s.labels.label === label)?.value ?? 0;
}

function histogram(label: string, other: string, value: number): HistogramDelta {
  const buckets = new Array<number>(DURATION_BUCKETS.length + 1).fill(0);
  let i = 0;
  while (i < DURATION_BUCKETS.length && value > DURATION_BUCKETS[i]!) i++;
  buckets[i] = 1;
  return { labels: [label, other], buckets, sum: value, count: 1 };
}

/** Deltas of values `from`…`to` (half-open): each gateway, listener and pool seen once per metric. */
function syntheticDeltas(from: number, to: number): MetricDeltas {
  const d: MetricDeltas = {
    requests: [],
    duration: [],
    backendLatency: [],
    firewall: [],
    records: [["access", "stored", to - from]],
    deadLetters: [],
  };
  for (let i = from; i < to; i++) {
    const gateway = `agw-${i}`;
    d.requests.push([gateway, "backend_timeout", "backend", "5xx", 1]);
    d.duration.push(histogram(gateway, `listener-${i}`, 0.2));
    d.backendLatency.push(histogram(gateway, `pool-${i}`, 0.1));
    d.firewall.push([gateway, "blocked", 1]);
  }
  return d;
}

interface FloodReport {
  readonly seriesAtTenth: Record<string, number>;
  readonly series: Record<string, number>;
  readonly sizeAtTenth: number;
  readonly size: number;
  readonly heapGrowth: number;
  readonly rssGrowth: number;
  readonly all: Sample[];
}

function seriesCounts(all: readonly Sample[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const metric of new Set(Object.values(CAPPED).flat())) out[metric] = series(all, metric).length;
  return out;
}

async function flood(metrics: GatewatchMetrics, distinct: number): Promise<FloodReport> {
  const before = process.memoryUsage();
  let maxHeap = before.heapUsed;
  let maxRss = before.rss;
  let seriesAtTenth: Record<string, number> = {};
  let sizeAtTenth = 0;
  for (let from = 0; from < distinct; from += CHUNK) {
    metrics.applyDeltas(syntheticDeltas(from, Math.min(from + CHUNK, distinct)));
    const mem = process.memoryUsage();
    maxHeap = Math.max(maxHeap, mem.heapUsed);
    maxRss = Math.max(maxRss, mem.rss);
    if (from + CHUNK === distinct / 10) {
      const { body } = await metrics.exposition();
      seriesAtTenth = seriesCounts(samples(body));
      sizeAtTenth = body.length;
    }
  }
  const { body } = await metrics.exposition();
  const all = samples(body);
  return {
    seriesAtTenth,
    series: seriesCounts(all),
    sizeAtTenth,
    size: body.length,
    heapGrowth: maxHeap - before.heapUsed,
    rssGrowth: maxRss - before.rss,
    all,
  };
}

function expectCapped(all: readonly Sample[], cap: number): void {
  for (const label of Object.keys(CAPPED) as CappedLabel[]) {
    const values = labelValues(all, label);
    expect(values.size, label).toBeLessThanOrEqual(cap + 1);
    expect(values.has(OTHER), `${label} uses ${OTHER}`).toBe(true);
  }
  for (const metric of [MetricNames.requests, MetricNames.firewallActions])
    expect(series(all, metric).length, metric).toBeLessThanOrEqual(cap + 1);
  // A histogram has two capped labels: at most (cap + 1)² label pairs, whatever the input.
  for (const metric of [MetricNames.requestDuration, MetricNames.backendLatency])
    expect(series(all, metric).length, metric).toBeLessThanOrEqual((cap + 1) ** 2);
}

describe("cardinality flood", () => {
  it("keeps at most 50 values + other per label with 1,000,000 distinct gateways, listeners and pools", async () => {
    const metrics = new GatewatchMetrics({ durationBuckets: DURATION_BUCKETS, processMetrics: false });
    const cap = 50;
    const r = await flood(metrics, DISTINCT);
    expectCapped(r.all, cap);
    // Each value is kept or replaced: gateway is applied by four metrics, listener and pool by one.
    expect(overflow(r.all, "gateway")).toBe(4 * (DISTINCT - cap));
    expect(overflow(r.all, "listener")).toBe(DISTINCT - cap);
    expect(overflow(r.all, "backend_pool")).toBe(DISTINCT - cap);
    // Nothing counted is lost by the capping: `other` carries the rest.
    const requests = series(r.all, MetricNames.requests);
    expect(requests.reduce((n, s) => n + s.value, 0)).toBe(DISTINCT);
    expect(requests.find((s) => s.labels.gateway === OTHER)?.value).toBe(DISTINCT - cap);
    // Series and exposition size do not grow with the number of distinct values.
    expect(r.series).toEqual(r.seriesAtTenth);
    expect(r.series[MetricNames.requests]).toBe(cap + 1);
    expect(r.size).toBeLessThan(r.sizeAtTenth * 1.05);
    expect(r.size).toBeLessThan(1 * MB);
    expect(r.heapGrowth).toBeLessThan(MEMORY_BOUND);
    expect(r.rssGrowth).toBeLessThan(MEMORY_BOUND);
    figures.push(
      `default cap: ${DISTINCT} distinct values, series ${JSON.stringify(r.series)}, exposition ${r.size} bytes ` +
        `(${r.sizeAtTenth} at ${DISTINCT / 10}), max heap growth ${(r.heapGrowth / MB).toFixed(1)} MB, ` +
        `max RSS growth ${(r.rssGrowth / MB).toFixed(1)} MB, overflow gateway ${overflow(r.all, "gateway")}`,
    );
  });

  it("honours a custom cap (labelCap 7)", async () => {
    const cap = 7;
    const distinct = 200_000;
    const metrics = new GatewatchMetrics({
      labelCap: cap,
      durationBuckets: DURATION_BUCKETS,
      processMetrics: false,
    });
    const r = await flood(metrics, distinct);
    expectCapped(r.all, cap);
    expect(r.series).toEqual(r.seriesAtTenth);
    expect(r.series[MetricNames.requests]).toBe(cap + 1);
    expect(overflow(r.all, "gateway")).toBe(4 * (distinct - cap));
    expect(overflow(r.all, "listener")).toBe(distinct - cap);
    expect(overflow(r.all, "backend_pool")).toBe(distinct - cap);
    expect(r.heapGrowth).toBeLessThan(MEMORY_BOUND);
    figures.push(
      `cap 7: ${distinct} distinct values, series ${JSON.stringify(r.series)}, exposition ${r.size} bytes`,
    );
  });

  it("caps 50,000 distinct values classified by classifyBatch and counts every replaced one", async () => {
    const distinct = 50_000;
    const perBody = 100;
    const bodiesPerBatch = 50;
    const encoder = new TextEncoder();
    const record = (i: number) =>
      `{"timeStamp":"2026-11-05T08:00:00Z","resourceId":"/SUBSCRIPTIONS/X/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/APPLICATIONGATEWAYS/AGW-${i}",` +
      `"listenerName":"listener-${i}","backendPoolName":"pool-${i}","operationName":"ApplicationGatewayAccess","category":"ApplicationGatewayAccessLog",` +
      `"properties":{"instanceId":"appgw_1","clientIP":"203.0.113.9","httpMethod":"GET","requestUri":"/","httpStatus":200,"timeTaken":0.05,` +
      `"serverRouted":"10.0.0.4:443","serverStatus":"200","serverResponseLatency":"0.04","host":"h${i}.example"}}`;
    const firewall = (i: number) =>
      `{"timeStamp":"2026-11-05T08:00:00Z","resourceId":"/X/APPLICATIONGATEWAYS/AGW-${i}","category":"ApplicationGatewayFirewallLog",` +
      `"properties":{"action":"Blocked","ruleId":"942100","hostname":"h${i}.example"}}`;
    const bodies: Uint8Array[] = [];
    for (let i = 0; i < distinct; i += perBody) {
      const recs: string[] = [];
      for (let j = i; j < i + perBody; j++) recs.push(record(j), firewall(j));
      bodies.push(encoder.encode(`{"records":[${recs.join(",")}]}`));
    }
    const metrics = new GatewatchMetrics({ durationBuckets: DURATION_BUCKETS, processMetrics: false });
    const deltas: MetricDeltas[] = [];
    let rows = 0;
    for (let b = 0; b < bodies.length; b += bodiesPerBatch) {
      const { data, ends } = packBodies(bodies.slice(b, b + bodiesPerBatch));
      const result = classifyBatch({
        source: "flood",
        partition: "0",
        firstSeq: b,
        data,
        ends,
        decode: {},
        classify: {},
        nowMs: Date.UTC(2026, 10, 5),
      });
      rows += result.tables.reduce((n, t) => n + t.rows, 0);
      deltas.push(result.deltas);
      metrics.applyDeltas(result.deltas);
    }
    expect(rows).toBe(2 * distinct);
    const all = samples((await metrics.exposition()).body);
    expectCapped(all, 50);

    // Every occurrence of a value that did not keep its name is counted, and nothing else.
    const kept = (label: CappedLabel) => new Set([...labelValues(all, label)].filter((v) => v !== OTHER));
    const keptGateways = kept("gateway");
    const keptListeners = kept("listener");
    const keptPools = kept("backend_pool");
    expect(keptGateways.size).toBe(50);
    let gateway = 0;
    let listener = 0;
    let pool = 0;
    for (const d of deltas) {
      for (const [g, , , , n] of d.requests) if (!keptGateways.has(g)) gateway += n;
      for (const [g, , n] of d.firewall) if (!keptGateways.has(g)) gateway += n;
      for (const h of d.duration) {
        if (!keptGateways.has(h.labels[0]!)) gateway += h.count;
        if (!keptListeners.has(h.labels[1]!)) listener += h.count;
      }
      for (const h of d.backendLatency) {
        if (!keptGateways.has(h.labels[0]!)) gateway += h.count;
        if (!keptPools.has(h.labels[1]!)) pool += h.count;
      }
    }
    expect(overflow(all, "gateway")).toBe(gateway);
    expect(overflow(all, "listener")).toBe(listener);
    expect(overflow(all, "backend_pool")).toBe(pool);
    expect(listener).toBe(distinct - 50);
    figures.push(
      `classifyBatch: ${2 * distinct} records (${distinct} distinct gateways/listeners/pools), ${rows} rows, ` +
        `series ${JSON.stringify(seriesCounts(all))}, overflow gateway ${gateway}, listener ${listener}, backend_pool ${pool}`,
    );
  });
});
