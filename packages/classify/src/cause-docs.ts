/**
 * One readable page per cause (`docs/causes/<id>.md`), generated from the catalog so the runbook
 * links of alerts and dashboards never point at a missing or stale page.
 */
import { CATALOG, CAUSE_IDS } from "./catalog.js";
import type { CauseId } from "./types.js";

/** The Markdown page of one cause. */
export function renderCauseDoc(id: CauseId): string {
  const info = CATALOG.get(id);
  if (!info) throw new RangeError(`unknown cause id ${id}`);
  const related = CAUSE_IDS.filter((other) => other !== id && CATALOG.get(other)?.origin === info.origin);
  return [
    `# \`${id}\`: ${info.title}`,
    "",
    "| origin | severity |",
    "| --- | --- |",
    `| \`${info.origin}\` | ${info.severity} |`,
    "",
    "## What usually produces it",
    "",
    info.producedBy,
    "",
    "## What to check first",
    "",
    info.checkFirst,
    "",
    "## Related causes",
    "",
    related.length === 0
      ? "None with the same origin."
      : related.map((r) => `- [\`${r}\`](${r}.md): ${CATALOG.get(r)!.title}`).join("\n"),
    "",
    "---",
    "Generated from the cause catalog (`packages/classify/src/catalog.ts`, rules in `spec/causes.md`) by `gatewatch docs`; do not edit by hand.",
    "",
  ].join("\n");
}

/** The index page listing every cause by origin. */
export function renderCauseIndex(): string {
  const lines = ["# Causes", "", "Every status-code cause gatewatch assigns, by origin.", ""];
  const origins = [...new Set(CAUSE_IDS.map((id) => CATALOG.get(id)!.origin))];
  for (const origin of origins) {
    lines.push(`## ${origin}`, "");
    for (const id of CAUSE_IDS.filter((c) => CATALOG.get(c)!.origin === origin)) {
      lines.push(`- [\`${id}\`](${id}.md): ${CATALOG.get(id)!.title}`);
    }
    lines.push("");
  }
  return lines.join("\n");
}
