import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { describe, expect, it } from "vitest";

import { CATALOG, CAUSE_IDS, classifyLine } from "../src/index.js";

const DIR = fileURLToPath(new URL("../../../test/fixtures/records/", import.meta.url));
const expected = JSON.parse(readFileSync(`${DIR}expected.json`, "utf8")) as Record<string, unknown>;
const FILES = ["access-v2.ndjson", "access-v1.ndjson", "l4.ndjson", "firewall.ndjson", "quirks.ndjson"];

function lines(file: string): string[] {
  const text = readFileSync(`${DIR}${file}`, "utf8");
  return text.endsWith("\n") ? text.slice(0, -1).split("\n") : text.split("\n");
}

describe("fixture corpus (test/fixtures/records)", () => {
  it("has an expectation list for every fixture file and nothing else", () => {
    expect(
      Object.keys(expected)
        .filter((k) => !k.startsWith("$"))
        .sort(),
    ).toEqual([...FILES].sort());
  });

  describe.each(FILES)("%s", (file) => {
    const inputs = lines(file);
    const wanted = expected[file] as Record<string, unknown>[][];

    it("has one expectation per line", () => {
      expect(inputs.length).toBe(wanted.length);
    });

    it.each(inputs.map((line, i) => [i + 1, line] as const))("line %d classifies as expected", (n, line) => {
      const out = classifyLine(line);
      const want = wanted[n - 1]!;
      expect(out).toHaveLength(want.length);
      want.forEach((w, i) => expect(out[i]).toMatchObject(w));
      for (const o of out) {
        if ("cause" in o) expect(o.origin).toBe(CATALOG.get(o.cause)?.origin);
        if (o.kind === "invalid") expect(o.reason.length).toBeGreaterThan(0);
      }
    });
  });

  it("reaches every cause of the catalog", () => {
    const seen = new Set<string>();
    for (const file of FILES) {
      for (const line of lines(file)) {
        for (const o of classifyLine(line)) if ("cause" in o) seen.add(o.cause);
      }
    }
    expect([...CAUSE_IDS].filter((id) => !seen.has(id))).toEqual([]);
  });

  it("reaches every invalid reason", () => {
    const seen = new Set<string>();
    for (const file of FILES)
      for (const line of lines(file))
        for (const o of classifyLine(line)) if (o.kind === "invalid") seen.add(o.reason);
    // body_too_large and empty_body cannot sit in an NDJSON corpus of real lines; they are unit-tested.
    expect([...seen].sort()).toEqual([
      "bad_time",
      "no_properties",
      "no_status",
      "not_json",
      "not_object",
      "records_not_array",
    ]);
  });
});
