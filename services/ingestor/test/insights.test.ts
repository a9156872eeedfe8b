import { describe, expect, it } from "vitest";
import { isGatewatchError } from "@gatewatch/pipeline";
import { parseDuration, parseInsightParams, parseInstant } from "../src/insights.js";

const NOW = 1_764_460_800; // 2025-11-30T00:00:00Z

function problem(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (isGatewatchError(err, "query_invalid")) return err.message;
    throw err;
  }
  throw new Error("expected query_invalid");
}

describe("parseInstant and parseDuration", () => {
  it.each([
    ["now", NOW],
    ["now-6h", NOW - 6 * 3600],
    ["90m", NOW - 90 * 60],
    ["2w", NOW - 14 * 86_400],
    ["2025-11-29T23:00:00Z", NOW - 3600],
    ["2025-11-30T01:30:00+01:00", NOW + 1800],
    ["1764460800", NOW],
    ["1764460800123", NOW],
  ])("reads %s", (text, want) => {
    expect(parseInstant(text, NOW)).toBe(want);
  });

  it.each([
    "",
    "yesterday",
    "2025-11-30",
    "2025-11-30T00:00:00",
    "now+1h",
    "-5",
    "1e9",
    "6 h",
    "2025-13-40T99:00:00Z",
  ])("refuses %j", (text) => {
    expect(parseInstant(text, NOW)).toBeUndefined();
  });

  it("reads durations in s, m, h, d and w only", () => {
    expect(parseDuration("45s")).toBe(45);
    expect(parseDuration("7d")).toBe(7 * 86_400);
    expect(parseDuration("5")).toBeUndefined();
    expect(parseDuration("5y")).toBeUndefined();
  });
});

describe("parseInsightParams", () => {
  it("defaults trends to the last hour with the step left to the runner", () => {
    expect(parseInsightParams("trends", {}, NOW)).toEqual({ from: NOW - 3600, to: NOW });
  });

  it("splits, trims and de-duplicates lists; repeated values count once", () => {
    const p = parseInsightParams(
      "top",
      { cause: "waf_block, backend_timeout,waf_block", gateway: "a,,b" },
      NOW,
    );
    expect(p).toMatchObject({
      by: "cause",
      limit: 10,
      cause: ["waf_block", "backend_timeout"],
      gateway: ["a", "b"],
    });
  });

  it("names every problem at once", () => {
    const message = problem(() =>
      parseInsightParams(
        "trends",
        { from: "soon", step: "90s", cause: "nope", origin: "mars", colour: "red" },
        NOW,
      ),
    );
    expect(message).toContain('unknown parameter "colour"');
    expect(message).toContain("from must be now, now-6h");
    expect(message).toContain("cause must be cause ids of the catalog");
    expect(message).toContain("origin must be origins");
  });

  it("refuses reversed, too long and too finely stepped ranges", () => {
    expect(problem(() => parseInsightParams("trends", { from: "now", to: "1h" }, NOW))).toContain(
      "from must be before to",
    );
    expect(problem(() => parseInsightParams("top", { from: "500d" }, NOW))).toContain("400 days");
    expect(problem(() => parseInsightParams("trends", { from: "30d", step: "1m" }, NOW))).toContain(
      "more than 1500 points",
    );
    expect(problem(() => parseInsightParams("trends", { step: "90s" }, NOW))).toContain("whole minutes");
    expect(problem(() => parseInsightParams("top", { by: "host", from: "8d" }, NOW))).toContain(
      "at most 7 days",
    );
  });

  it("bounds limits and list sizes", () => {
    expect(problem(() => parseInsightParams("top", { limit: "101" }, NOW))).toContain("limit");
    expect(problem(() => parseInsightParams("top", { limit: "1; DROP" }, NOW))).toContain("limit");
    const many = Array.from({ length: 51 }, (_, i) => `gw${i}`).join(",");
    expect(problem(() => parseInsightParams("trends", { gateway: many }, NOW))).toContain("gateway");
    expect(problem(() => parseInsightParams("trends", { gateway: "x".repeat(257) }, NOW))).toContain(
      "gateway",
    );
  });

  it("accepts transaction ids only of letters, digits and - . _ :", () => {
    expect(parseInsightParams("explain", { transaction_id: "868a18f9-561d.48_10:88" }, NOW)).toEqual({
      transaction_id: "868a18f9-561d.48_10:88",
    });
    for (const bad of ["' OR 1=1 --", "", "a/b", "x".repeat(129), "tx\u0000"])
      expect(problem(() => parseInsightParams("explain", { transaction_id: bad }, NOW))).toContain(
        "transaction_id",
      );
  });

  it("reads alerts' active flag and window", () => {
    expect(parseInsightParams("alerts", { active: "true", since: "2h" }, NOW)).toEqual({
      active: "true",
      since: 7200,
      limit: 1000,
    });
    expect(problem(() => parseInsightParams("alerts", { active: "yes" }, NOW))).toContain("active");
  });
});
