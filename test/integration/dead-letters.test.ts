/**
 * `gatewatch dead-letters` and `gatewatch dead-letters replay` on the embedded store: bodies that
 * were dead-lettered because they exceeded GATEWATCH_MAX_BODY_BYTES are stored once the limit is
 * raised and their dead letters replayed; replayed dead letters are no longer listed or replayed.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { classifyLine } from "@gatewatch/classify";
import { createDemoGenerator } from "@gatewatch/source-demo";
import { runCli } from "../helpers/cli.js";

const dir = mkdtempSync(join(tmpdir(), "gw-dead-letters-"));
const store = `embedded:${join(dir, "store")}`;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const lines = (stdout: string) =>
  stdout
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** Request rows (access and L4 records) a body holds. */
const requestsIn = (body: string) =>
  classifyLine(body).filter((o) => o.kind === "access" || o.kind === "l4").length;

async function requests(): Promise<number> {
  const r = await runCli(["query", "--store", store, "SELECT count() AS n FROM gatewatch.requests"]);
  expect(r.code, r.stderr).toBe(0);
  return Number(lines(r.stdout)[0]!.n);
}

describe("gatewatch dead-letters", { timeout: 120_000 }, () => {
  it("lists dead letters, replays the fixable ones after a fix, and does not replay them twice", async () => {
    // Small bodies (one record each) and two large ones (many records), plus a line that is not JSON.
    const gen = createDemoGenerator({ seed: 9, ratePerSecond: 40, startTimeMs: Date.UTC(2026, 10, 5) });
    const small = gen.bodiesAt(0).map((b) => Buffer.from(b).toString("utf8"));
    const records = (body: string) => (JSON.parse(body) as { records: unknown[] }).records;
    const bigOf = (t: number) =>
      JSON.stringify({ records: gen.bodiesAt(t).flatMap((b) => records(Buffer.from(b).toString("utf8"))) });
    const big = [bigOf(1), bigOf(2)];
    const limit = Math.max(...small.map((b) => Buffer.byteLength(b))) + 1;
    expect(Math.min(...big.map((b) => Buffer.byteLength(b)))).toBeGreaterThan(limit);
    const file = join(dir, "input.ndjson");
    writeFileSync(file, [...small, ...big, "{not json"].join("\n") + "\n");

    const first = await runCli([
      "replay",
      file,
      "--no-progress",
      "--store",
      store,
      "--max-body-bytes",
      String(limit),
      // Keep the oversized bodies whole in their dead letters, so they can be replayed.
      "--dead-letter-raw-chars",
      "100000",
    ]);
    expect(first.code, first.stderr).toBe(0);
    const stored = await requests();
    expect(stored).toBe(small.reduce((n, b) => n + requestsIn(b), 0));

    const listed = await runCli(["dead-letters", "--store", store]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(
      lines(listed.stdout)
        .map((r) => r.reason)
        .sort(),
    ).toEqual(["body_too_large", "body_too_large", "not_json"]);
    const oversized = await runCli(["dead-letters", "--store", store, "--reason", "body_too_large"]);
    expect(lines(oversized.stdout)).toHaveLength(2);

    // The fix: a larger body limit. Only the oversized bodies are replayed.
    const replayed = await runCli(["dead-letters", "replay", "--store", store, "--reason", "body_too_large"]);
    expect(replayed.code, replayed.stderr).toBe(0);
    expect(JSON.parse(replayed.stdout)).toMatchObject({
      selected: 2,
      replayed: 2,
      truncated: 0,
      deadLetters: 0,
    });
    expect(await requests()).toBe(stored + big.reduce((n, b) => n + requestsIn(b), 0));

    // Replayed ones are gone from the list (still there with --all) and are not replayed again.
    expect(lines((await runCli(["dead-letters", "--store", store])).stdout).map((r) => r.reason)).toEqual([
      "not_json",
    ]);
    expect(lines((await runCli(["dead-letters", "--store", store, "--all"])).stdout)).toHaveLength(3);
    const again = await runCli(["dead-letters", "replay", "--store", store]);
    expect(JSON.parse(again.stdout)).toMatchObject({ selected: 1, replayed: 1, deadLetters: 1 });
    expect(await requests()).toBe(stored + big.reduce((n, b) => n + requestsIn(b), 0));
    // The still-broken line is a dead letter again (from the replay), and replayed ones are not listed.
    const after = lines((await runCli(["dead-letters", "--store", store])).stdout);
    expect(after.map((r) => [r.reason, r.source])).toEqual([["not_json", "dead-letters"]]);
  });

  it("refuses a malformed --reason or --since", async () => {
    const bad = await runCli(["dead-letters", "--store", store, "--reason", "x' OR 1=1 --"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--reason must be a reason id");
    expect((await runCli(["dead-letters", "--store", store, "--since", "soon"])).code).toBe(2);
  });
});
