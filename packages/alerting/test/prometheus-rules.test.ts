import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { CATALOG } from "@gatewatch/classify";
import { buildPrometheusRules, spikeCauses } from "../src/index.js";

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  labels?: Record<string, string>;
}

const groups = (parse(buildPrometheusRules()) as { groups: { name: string; rules: Rule[] }[] }).groups;
const rules = groups.flatMap((g) => g.rules);

describe("buildPrometheusRules", () => {
  it("is deterministic", () => {
    expect(buildPrometheusRules()).toBe(buildPrometheusRules());
  });

  it("never alerts on success, l4_session_ok or internal_traffic", () => {
    const alerted = rules.filter((r) => r.alert === "GatewatchCauseSpike").map((r) => r.labels?.cause);
    for (const quiet of ["success", "l4_session_ok", "internal_traffic"])
      expect(alerted).not.toContain(quiet);
    expect(alerted).toEqual(spikeCauses().map((c) => c.id));
  });

  it("tags every spike alert with its cause, origin and catalog severity", () => {
    for (const rule of rules.filter((r) => r.alert === "GatewatchCauseSpike")) {
      const cause = CATALOG.get(rule.labels?.cause as never);
      expect(cause).toBeDefined();
      expect(rule.labels).toEqual({ severity: cause?.severity, cause: cause?.id, origin: cause?.origin });
    }
  });

  it("records the rates, share and baseline the dashboards and spike rules use", () => {
    const recorded = rules.flatMap((r) => (r.record === undefined ? [] : [r.record]));
    expect(recorded).toEqual(
      expect.arrayContaining([
        "gatewatch:requests:rate5m",
        "gatewatch:requests_total:rate5m",
        "gatewatch:cause_share:ratio5m",
        "gatewatch:requests:rate5m:avg_over_1w",
      ]),
    );
  });

  it("has every pipeline alert and a watchdog", () => {
    const pipeline = groups.find((g) => g.name === "gatewatch-pipeline")?.rules.map((r) => r.alert);
    expect(pipeline).toEqual([
      "GatewatchNoDataFromGateway",
      "GatewatchIngestionStalled",
      "GatewatchConsumerLagGrowing",
      "GatewatchCheckpointStale",
      "GatewatchDeadLettersRising",
      "GatewatchInsertsFailing",
      "GatewatchLabelOverflow",
      "Watchdog",
    ]);
  });
});
