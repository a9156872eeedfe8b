/**
 * The `gatewatch classify` summary (spec §6: records per kind and cause), printed to standard error.
 * Counters are null-prototype objects so any key is safe and `JSON.stringify` prints them directly.
 */

/** Counts of classify outputs. */
export interface ClassifySummary {
  /** Output objects seen. */
  records: number;
  /** Per `kind` (access, l4, firewall, performance, unsupported, invalid). */
  readonly kinds: Record<string, number>;
  /** Per `cause` of access and l4 outputs. */
  readonly causes: Record<string, number>;
  /** Per invalid `reason`. */
  readonly invalidReasons: Record<string, number>;
}

function counter(): Record<string, number> {
  return Object.create(null) as Record<string, number>;
}

function bump(counts: Record<string, number>, key: unknown): void {
  if (typeof key !== "string") return;
  counts[key] = (counts[key] ?? 0) + 1;
}

/** An empty summary. */
export function newSummary(): ClassifySummary {
  return { records: 0, kinds: counter(), causes: counter(), invalidReasons: counter() };
}

/** Adds classify outputs (e.g. one {@link classifyLine} result) to `summary`; returns it. */
export function addToSummary(
  summary: ClassifySummary,
  outputs: readonly Record<string, unknown>[],
): ClassifySummary {
  for (const o of outputs) {
    summary.records += 1;
    bump(summary.kinds, o["kind"]);
    if (Object.hasOwn(o, "cause")) bump(summary.causes, o["cause"]);
    if (o["kind"] === "invalid") bump(summary.invalidReasons, o["reason"]);
  }
  return summary;
}
