/**
 * `gatewatch classify` through the built binary (spec §6): one JSON line per record in input order,
 * invalid lines as `{"kind":"invalid","reason":…}`, a summary on stderr, exit 0 unless the input
 * cannot be opened.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, runCli } from "../helpers/cli.js";

const dir = join(ROOT, "test/fixtures/records");
const expected = JSON.parse(readFileSync(join(dir, "expected.json"), "utf8")) as Record<string, unknown>;

function lines(text: string): Record<string, unknown>[] {
  return text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe("gatewatch classify", () => {
  const files = readdirSync(dir).filter((f) => f.endsWith(".ndjson"));

  it.each(files)("classifies %s as the fixture table says", async (file) => {
    const r = await runCli(["classify", join(dir, file)]);
    expect(r.code).toBe(0);
    const out = lines(r.stdout);
    const want = expected[file] as Record<string, unknown>[][] | Record<string, unknown>[];
    const flat = (want as unknown[]).flat() as Record<string, unknown>[];
    expect(out).toHaveLength(flat.length);
    out.forEach((o, i) => expect(o).toMatchObject(flat[i]!));
  });

  it("reads standard input, keeps input order and writes the summary to stderr", async () => {
    const input = [
      '{"records":[{"timeStamp":"2026-11-29T10:00:00+00:00","resourceId":"/SUBSCRIPTIONS/X/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/APPLICATIONGATEWAYS/GW1","category":"ApplicationGatewayAccessLog","properties":{"httpStatus":504,"serverStatus":"","error_info":"ERRORINFO_UPSTREAM_TIMED_OUT","timeTaken":20.01}}]}',
      "this is not json",
      '{"category":"ApplicationGatewayAccessLog","timeStamp":"2026-11-29T10:00:01+00:00","properties":{"protocol":"TCP","serverStatus":"502"}}',
    ].join("\n");
    const r = await runCli(["classify", "-"], { input });
    expect(r.code).toBe(0);
    expect(lines(r.stdout)).toMatchObject([
      { kind: "access", cause: "backend_timeout", origin: "backend", rule: "R3", status: 504 },
      { kind: "invalid", reason: "not_json" },
      { kind: "l4", cause: "l4_backend_unreachable", rule: "L4" },
    ]);
    const summary = JSON.parse(r.stderr.trim()) as { summary: Record<string, unknown> };
    expect(summary.summary).toMatchObject({ records: 3 });
  });

  it("exits non-zero when the input cannot be opened", async () => {
    const r = await runCli(["classify", "/nonexistent.ndjson"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("/nonexistent.ndjson");
    expect(r.stdout).toBe("");
  });
});

describe("gatewatch command line", () => {
  it("prints help for every command", async () => {
    for (const cmd of ["run", "classify", "replay", "query", "migrate"]) {
      const r = await runCli([cmd, "--help"]);
      expect(r.code, cmd).toBe(0);
      expect(r.stdout, cmd).toContain(`Usage: gatewatch ${cmd}`);
    }
  });

  it("rejects bad values once, naming every flag and variable with the value and the expectation", async () => {
    const r = await runCli(["run", "--threads", "abc", "--listen-port", "99999"], {
      env: { GATEWATCH_BATCH_MAX_BODIES: "-3", GATEWATCH_NOPE: "1" },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--threads must be a positive integer, got "abc"');
    expect(r.stderr).toContain('--listen-port must be a port number 0..65535, got "99999"');
    expect(r.stderr).toContain('GATEWATCH_BATCH_MAX_BODIES must be a positive integer, got "-3"');
    expect(r.stderr).toContain("GATEWATCH_NOPE is not a gatewatch setting");
  });

  it("rejects an unknown flag and a bad store URL", async () => {
    const a = await runCli(["replay", "x.ndjson", "--bogus"]);
    expect(a.code).not.toBe(0);
    expect(a.stderr).toContain("unknown option '--bogus'");
    const b = await runCli(["migrate", "--store", "ftp://x"]);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain("--store");
  });
});
