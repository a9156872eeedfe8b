import { describe, expect, it } from "vitest";
import { GatewatchMetrics, MetricNames } from "../src/index.js";

const buckets = [0.1, 1, 10];

function deltas(gateway: string, n = 1) {
  return {
    requests: [[gateway, "backend_timeout", "backend", "5xx", n] as [string, string, string, string, number]],
    duration: [{ labels: [gateway, "listener-a"], buckets: [1, 0, 2, 1], sum: 25.1, count: 4 }],
    backendLatency: [],
    firewall: [[gateway, "blocked", 2] as [string, string, number]],
    records: [["access", "stored", n] as [string, string, number]],
    deadLetters: [["not_json", 1] as [string, number]],
  };
}

describe("GatewatchMetrics", () => {
  it("exposes requests by gateway, cause, origin and status class", async () => {
    const m = new GatewatchMetrics({ durationBuckets: buckets, processMetrics: false });
    m.applyDeltas(deltas("gw1", 3));
    m.applyDeltas(deltas("gw1", 2));
    const { body } = await m.exposition();
    expect(body).toContain(
      `${MetricNames.requests}{gateway="gw1",cause="backend_timeout",origin="backend",status_class="5xx"} 5`,
    );
    expect(body).toContain(`${MetricNames.firewallActions}{gateway="gw1",action="blocked"} 4`);
    expect(body).toContain(`${MetricNames.deadLetters}{reason="not_json"} 2`);
  });

  it("turns pre-aggregated buckets into a cumulative Prometheus histogram", async () => {
    const m = new GatewatchMetrics({ durationBuckets: buckets, processMetrics: false });
    m.applyDeltas(deltas("gw1"));
    const { body } = await m.exposition();
    const name = MetricNames.requestDuration;
    expect(body).toContain(`# TYPE ${name} histogram`);
    expect(body).toContain(`${name}_bucket{gateway="gw1",listener="listener-a",le="0.1"} 1`);
    expect(body).toContain(`${name}_bucket{gateway="gw1",listener="listener-a",le="1"} 1`);
    expect(body).toContain(`${name}_bucket{gateway="gw1",listener="listener-a",le="10"} 3`);
    expect(body).toContain(`${name}_bucket{gateway="gw1",listener="listener-a",le="+Inf"} 4`);
    expect(body).toContain(`${name}_sum{gateway="gw1",listener="listener-a"} 25.1`);
    expect(body).toContain(`${name}_count{gateway="gw1",listener="listener-a"} 4`);
  });

  it("caps distinct gateway values, folds the rest into 'other' and counts the overflow", async () => {
    const m = new GatewatchMetrics({ durationBuckets: buckets, labelCap: 2, processMetrics: false });
    for (let i = 0; i < 1000; i++) m.applyDeltas(deltas(`gw${i}`));
    const { body } = await m.exposition();
    const series = body.split("\n").filter((l) => l.startsWith(`${MetricNames.requests}{`));
    expect(series).toHaveLength(3);
    expect(body).toContain(
      `${MetricNames.requests}{gateway="other",cause="backend_timeout",origin="backend",status_class="5xx"} 998`,
    );
    expect(body).toMatch(new RegExp(`${MetricNames.labelOverflow}\\{label="gateway"\\} \\d+`));
  });

  it("escapes hostile label values", async () => {
    const m = new GatewatchMetrics({ durationBuckets: buckets, processMetrics: false });
    m.applyDeltas(deltas('gw"\n{evil}'));
    const { body } = await m.exposition();
    expect(body).toContain('gateway="gw\\"\\n{evil}"');
  });
});
