/**
 * The Grafana/ClickHouse-plugin interpolation model used by the dashboard tests, against the
 * examples of the plugin's documentation (docs/sources/query-editor.md, template-variables.md) and
 * the behaviour of its macro engine.
 */
import { describe, expect, it } from "vitest";
import {
  applyConditionalAll,
  calculateIntervalMs,
  expandMacros,
  interpolateClickHouseQuery,
  interpolateVariables,
  leftoverVariables,
  type QueryContext,
  type VariableState,
} from "./grafana-macros.js";

// The documentation's example range: 1415792726 .. 1447328726 (seconds).
const ctx: QueryContext = { fromMs: 1415792726123, toMs: 1447328726456, intervalMs: 20_000 };

describe("backend macros (pkg/macros)", () => {
  it("expands the time filters as the documentation shows", () => {
    expect(expandMacros("WHERE $__timeFilter(time)", ctx)).toBe(
      "WHERE time >= toDateTime(1415792726) AND time <= toDateTime(1447328726)",
    );
    expect(expandMacros("$__timeFilter_ms(time)", ctx)).toBe(
      "time >= fromUnixTimestamp64Milli(1415792726123) AND time <= fromUnixTimestamp64Milli(1447328726456)",
    );
    expect(expandMacros("$__dateFilter(date)", ctx)).toBe(
      "date >= toDate('2014-11-12') AND date <= toDate('2015-11-12')",
    );
    expect(expandMacros("$__dt(d, t)", ctx)).toBe(
      "(d >= toDate('2014-11-12') AND d <= toDate('2015-11-12')) AND (t >= toDateTime(1415792726) AND t <= toDateTime(1447328726))",
    );
    expect(expandMacros("$__fromTime, $__toTime, $__fromTime_ms", ctx)).toBe(
      "toDateTime(1415792726), toDateTime(1447328726), fromUnixTimestamp64Milli(1415792726123)",
    );
    expect(expandMacros("$__timeFrom(t) AND $__timeTo(t)", ctx)).toBe(
      "t >= toDateTime(1415792726) AND t <= toDateTime(1447328726)",
    );
  });

  it("buckets by the panel interval, at least one second, and tells longer names from shorter ones", () => {
    expect(expandMacros("$__timeInterval(column)", ctx)).toBe(
      "toStartOfInterval(toDateTime(column), INTERVAL 20 second)",
    );
    expect(expandMacros("$__timeInterval_ms(column)", { ...ctx, intervalMs: 20 })).toBe(
      "toStartOfInterval(toDateTime64(column, 3), INTERVAL 20 millisecond)",
    );
    expect(expandMacros("$__interval_s $__interval_ms $__interval", ctx)).toBe("20 20000 20s");
    expect(expandMacros("$__interval_s", { ...ctx, intervalMs: 500 })).toBe("1");
    expect(expandMacros("$__timeGroup(t, '5m')", ctx)).toBe(
      "toStartOfInterval(toDateTime(t), INTERVAL 300 second)",
    );
  });

  it("finds arguments inside nested calls and literals, and strips comments first", () => {
    expect(expandMacros("sumIf(n, $__timeFilter(t)) AS x", ctx)).toBe(
      "sumIf(n, t >= toDateTime(1415792726) AND t <= toDateTime(1447328726)) AS x",
    );
    expect(expandMacros("$__timeFilter(toDateTime(t, 'UTC'))", ctx)).toContain(
      "toDateTime(t, 'UTC') >= toDateTime(1415792726)",
    );
    const sql = "SELECT 1 -- $__timeFilter(t)\n/* $__fromTime */ , '-- kept' ";
    const out = expandMacros(sql, ctx);
    expect(out).toBe(`SELECT 1 ${" ".repeat(19)}\n${" ".repeat(17)} , '-- kept' `);
  });

  it("leaves unknown macros for ClickHouse to refuse, and fails on a wrong argument count", () => {
    const out = expandMacros("SELECT $__nope(x), $__fromTimes", ctx);
    expect(out).toBe("SELECT $__nope(x), $__fromTimes");
    expect(leftoverVariables(out)).toEqual(["$__nope", "$__fromTimes"]);
    expect(leftoverVariables("SELECT '$notavariable' AS a, ${x}, [[y]]")).toEqual(["${x}", "[[y]]"]);
    expect(() => expandMacros("$__timeFilter(a, b)", ctx)).toThrow(/expected 1 argument/);
    expect(() => expandMacros("$__timeFilter()", ctx)).toThrow(/received 0/);
  });
});

describe("template variables", () => {
  const vars: VariableState[] = [
    { name: "db", multi: true, includeAll: true, value: "$__all", options: ["a", "b'c"] },
    { name: "one", multi: true, includeAll: true, value: ["x", "y"], options: ["x", "y", "z"] },
    { name: "single", value: "plain" },
    { name: "empty", multi: true, includeAll: true, value: [], options: [] },
  ];

  it("replaces $__conditionalAll with 1=1 for All or nothing selected, with the condition otherwise", () => {
    const sql =
      "WHERE $__conditionalAll(database IN (${db:singlequote}), $db) AND $__conditionalAll(hasAny(t, [${one:singlequote}]), ${one})" +
      " AND $__conditionalAll(e IN (${empty:singlequote}), $empty) AND $__conditionalAll(database IN (${db:singlequote}), $db)";
    expect(applyConditionalAll(sql, vars)).toBe(
      "WHERE 1=1 AND hasAny(t, [${one:singlequote}]) AND 1=1 AND 1=1",
    );
    // The variable argument must be a plain reference: with a format the plugin cannot see All.
    expect(applyConditionalAll("$__conditionalAll(x IN (${db:singlequote}), ${db:singlequote})", vars)).toBe(
      "x IN (${db:singlequote})",
    );
  });

  it("formats values as Grafana does for the ClickHouse datasource", () => {
    expect(interpolateVariables("IN (${db:singlequote})", vars, ctx, "clickhouse")).toBe("IN ('a','b\\'c')");
    expect(interpolateVariables("IN ($one) = ${single} [[single]]", vars, ctx, "clickhouse")).toBe(
      "IN ('x','y') = plain plain",
    );
    expect(
      interpolateVariables("$unknown $__timeFilter(t) $__interval_s $__from", vars, ctx, "clickhouse"),
    ).toBe("$unknown $__timeFilter(t) $__interval_s 1415792726123");
  });

  it("formats values as Grafana does for the Prometheus datasource", () => {
    const prom: VariableState[] = [
      { name: "instance", multi: true, includeAll: true, allValue: ".*", value: ["$__all"], options: ["a"] },
      { name: "pick", multi: true, includeAll: true, value: ["10.0.0.1:9464", "b"], options: [] },
    ];
    expect(
      interpolateVariables('x{instance=~"$instance", p=~"$pick"}[$__rate_interval]', prom, ctx, "prometheus"),
    ).toBe('x{instance=~".*", p=~"(10\\\\.0\\\\.0\\\\.1:9464|b)"}[1m]');
  });

  it("runs the whole chain: conditionalAll, then variables, then macros", () => {
    const sql = "SELECT 1 WHERE $__timeFilter(t) AND $__conditionalAll(c IN (${one:singlequote}), $one)";
    expect(interpolateClickHouseQuery(sql, vars, ctx)).toBe(
      "SELECT 1 WHERE t >= toDateTime(1415792726) AND t <= toDateTime(1447328726) AND c IN ('x','y')",
    );
  });
});

describe("panel interval", () => {
  it("divides the range by the data points, rounds it, and honours the panel's min interval", () => {
    const hour = 3_600_000;
    expect(calculateIntervalMs(hour, 1000)).toBe(5_000);
    expect(calculateIntervalMs(hour, 1000, "1m")).toBe(60_000);
    expect(calculateIntervalMs(30 * 24 * hour, 1000, "1m")).toBe(1_800_000);
    expect(calculateIntervalMs(365 * 24 * hour, 1000, "1m")).toBe(21_600_000);
  });
});
