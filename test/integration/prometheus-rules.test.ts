/**
 * The committed Prometheus rules (deploy/prometheus) are what the catalog generates, Prometheus's own
 * promtool accepts them, and their unit tests pass: a spike fires with cause-tagged labels, steady
 * and sub-floor rates stay quiet, a stalled pipeline alerts, the watchdog always fires.
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { CATALOG } from "@gatewatch/classify";
import { buildPrometheusRules } from "@gatewatch/alerting";
import { ROOT, runCli } from "../helpers/cli.js";

const run = promisify(execFile);
const RULES = join(ROOT, "deploy/prometheus/gatewatch.rules.yml");
const RULE_TESTS = join(ROOT, "deploy/prometheus/gatewatch.rules.test.yml");

/** Resolves promtool, failing (never skipping) with the fix when it is not installed. */
function promtool(): string {
  for (const dir of ["/usr/bin", "/usr/local/bin", ...(process.env.PATH ?? "").split(":")]) {
    const candidate = join(dir, "promtool");
    if (dir !== "" && existsSync(candidate)) return candidate;
  }
  throw new Error("promtool not found: install the Debian package `prometheus` (apt-get install prometheus)");
}

async function runPromtool(args: string[]): Promise<{ code: number; output: string }> {
  try {
    const r = await run(promtool(), args, { cwd: ROOT });
    return { code: 0, output: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string; message: string };
    if (typeof e.code !== "number") throw err;
    return { code: e.code, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

describe("Prometheus rules", () => {
  it("are accepted by promtool check rules", async () => {
    const r = await runPromtool(["check", "rules", RULES]);
    expect(r.code, r.output).toBe(0);
  });

  it("pass their promtool unit tests", async () => {
    const r = await runPromtool(["test", "rules", RULE_TESTS]);
    expect(r.code, r.output).toBe(0);
  });

  it("are committed exactly as buildPrometheusRules generates them", () => {
    expect(
      readFileSync(RULES, "utf8"),
      "stale: run npx tsc -b packages/alerting && node deploy/prometheus/generate.mjs",
    ).toBe(buildPrometheusRules());
  });

  it("are what `gatewatch rules` prints", async () => {
    const r = await runCli(["rules"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(buildPrometheusRules());
  });

  it("have one spike alert per alerting cause, with its catalog severity and origin", () => {
    const file = parse(readFileSync(RULES, "utf8"));
    const spikes = file.groups
      .flatMap((g: { rules: unknown[] }) => g.rules)
      .filter((r: { alert?: string }) => r.alert === "GatewatchCauseSpike");
    const expected = [...CATALOG.values()].filter((c) => c.origin !== "none" && c.origin !== "internal");
    expect(expected.length).toBeGreaterThan(0);
    expect(spikes.map((r: { labels: { cause: string } }) => r.labels.cause)).toEqual(
      expected.map((c) => c.id),
    );
    for (const cause of expected) {
      const rule = spikes.find((r: { labels: { cause: string } }) => r.labels.cause === cause.id);
      expect(rule.labels).toEqual({ severity: cause.severity, cause: cause.id, origin: cause.origin });
      expect(rule.expr).toContain(`cause="${cause.id}"`);
      expect(rule.for).toBe("5m");
      expect(rule.annotations.runbook_url).toBe(`docs/causes/${cause.id}.md`);
    }
  });
});

describe("deploy/alertmanager/alertmanager.yml", () => {
  const CONFIG = join(ROOT, "deploy/alertmanager/alertmanager.yml");
  const amtool = async (args: string[]) => (await run("amtool", args, { encoding: "utf8" })).stdout;

  it("is a valid Alertmanager configuration (amtool)", async () => {
    expect(await amtool(["check-config", CONFIG])).toContain("SUCCESS");
  });

  it("pages critical causes, keeps client causes in chat and sends gatewatch's own health to the platform team", async () => {
    const route = async (...labels: string[]) =>
      (await amtool(["config", "routes", "test", `--config.file=${CONFIG}`, ...labels])).trim();
    expect(
      await route("alertname=GatewatchCauseSpikeDetected", "severity=critical", "cause=no_healthy_backend"),
    ).toBe("pager");
    expect(await route("alertname=GatewatchCauseSpike", "severity=warning", "origin=client")).toBe("chat");
    expect(await route("alertname=GatewatchConsumerLagGrowing", "severity=warning")).toBe("platform");
  });

  it("names only alerts that gatewatch raises", () => {
    const text = readFileSync(CONFIG, "utf8");
    const rules = buildPrometheusRules();
    for (const name of text.match(/Gatewatch[A-Za-z]+/g) ?? []) {
      if (name === "GatewatchCauseSpikeDetected") continue; // raised by the service, not by Prometheus
      expect(rules, name).toContain(`alert: ${name}`);
    }
    for (const name of text.match(/\((?:[A-Za-z]+\|)+[A-Za-z]+\)/g) ?? [])
      for (const part of name.slice(1, -1).split("|")) expect(rules).toContain(`alert: Gatewatch${part}`);
  });
});
