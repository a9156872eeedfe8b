/**
 * The committed cause pages (`docs/causes/`) are exactly what `gatewatch docs` generates from the
 * catalog: one page per cause id, nothing stale, nothing missing.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CAUSE_IDS } from "@gatewatch/classify";
import { ROOT, runCli } from "../helpers/cli.js";

const out = mkdtempSync(join(tmpdir(), "gw-docs-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe("gatewatch docs", () => {
  it("writes one page per cause and an index, identical to the committed docs/causes", async () => {
    const r = await runCli(["docs", "--out", out]);
    expect(r.code, r.stderr).toBe(0);
    const generated = readdirSync(out).sort();
    expect(generated).toEqual([...CAUSE_IDS.map((id) => `${id}.md`), "README.md"].sort());
    const committed = join(ROOT, "docs/causes");
    expect(readdirSync(committed).sort()).toEqual(generated);
    for (const file of generated) {
      expect(readFileSync(join(committed, file), "utf8"), `${file} is stale: run npx gatewatch docs`).toBe(
        readFileSync(join(out, file), "utf8"),
      );
    }
  });
});
