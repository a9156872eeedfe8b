// Figures, their targets and the human table. Kept apart from run.js so the orchestration reads as a
// list of scenarios. Ratios are what the targets are about: absolute rates move with the machine
// (2-core CI runners are noisy), ratios against a baseline measured in the same run much less.

/** Target per figure: `min` (at least) or `max` (at most), and a stretch value if any. */
export const TARGETS = {
  classify_ratio: { min: 0.8 },
  e2e_ratio: { min: 0.6 },
  peer_ratio: { min: 0.5, stretch: 1.0 },
  rss_growth: { max: 1.1 },
  latency_p99_ms: { max: 2000 },
};

/** Every figure in print order, with its unit and what it is. */
const ROWS = [
  ["baseline_records_per_s", "rec/s", "JSON.parse of the bodies, one core"],
  ["classify_records_per_s", "rec/s", "decode+classify+encode on 1 worker"],
  ["classify_inline_records_per_s", "rec/s", "the same on the main thread"],
  ["classify_ratio", "", "classify / baseline"],
  ["e2e_records_per_s", "rec/s", "source → pool → ClickHouse → ack"],
  ["e2e_ratio", "", "e2e / baseline"],
  ["cpu_us_per_record", "µs", "process CPU (all threads) per record"],
  ["peer_records_per_s", "rec/s", "ClickHouse alone: INSERT … SELECT"],
  ["peer_ratio", "", "e2e / peer"],
  ["peak_rss_mb_1m", "MB", "peak RSS, smaller e2e run"],
  ["peak_rss_mb_5m", "MB", "peak RSS, 5× larger e2e run"],
  ["rss_growth", "", "peak at 5× / peak at 1×"],
  ["e2e_start_rss_mb", "MB", "RSS as the larger run starts (pool read, store open)"],
  ["peak_rss_mb", "MB", "largest peak of any scenario"],
  ["latency_p50_ms", "ms", "release → ack, per body"],
  ["latency_p99_ms", "ms", "release → ack, per body"],
  ["latency_achieved_records_per_s", "rec/s", "paced load actually acked"],
];

/** "met", "not met" or undefined (no target / no value) for a figure. */
export function verdict(name, value) {
  const t = TARGETS[name];
  if (!t || value === null || value === undefined) return undefined;
  const met = t.min !== undefined ? value >= t.min : value <= t.max;
  const stretch = t.stretch !== undefined && value >= t.stretch;
  return { met, stretch };
}

function formatValue(v) {
  if (v === null || v === undefined) return "—";
  if (Math.abs(v) >= 100) return Math.round(v).toLocaleString("en-US");
  return v.toFixed(Math.abs(v) >= 10 ? 1 : 2);
}

function formatTarget(name) {
  const t = TARGETS[name];
  if (!t) return "";
  const base = t.min !== undefined ? `≥ ${t.min}` : `≤ ${t.max}`;
  return t.stretch !== undefined ? `${base} (stretch ${t.stretch.toFixed(1)})` : base;
}

/** The human report: header lines, the figure table, then checks. */
export function formatReport(info, figures, checks) {
  const lines = [
    `gatewatch bench ${info.date} (${info.mode}): ${info.cores} cores, node ${info.node}, chdb ${info.chdb}`,
    `input: ${info.bodies} bodies × 100 records = ${info.records.toLocaleString("en-US")} records ` +
      `(${(info.pool_bytes / 1e6).toFixed(1)} MB), mean record ${Math.round(info.mean_record_bytes)} B; ` +
      `e2e/peer ${info.e2e_records.toLocaleString("en-US")} records, memory runs ` +
      `${info.memory_records_small.toLocaleString("en-US")} and ${info.memory_records_large.toLocaleString("en-US")}`,
    `pipeline: ${info.threads} threads, max in flight ${info.max_in_flight}, batches ≤ ${info.batch_max_bodies} bodies / ` +
      `${info.batch_max_bytes} bytes / ${info.batch_max_wait_ms} ms`,
    "",
    `${"figure".padEnd(32)}${"value".padStart(12)}  ${"unit".padEnd(6)}${"target".padEnd(22)}${"".padEnd(11)}what`,
  ];
  for (const [name, unit, what] of ROWS) {
    const v = figures[name];
    const verdictOf = verdict(name, v);
    const mark = !verdictOf ? "" : verdictOf.stretch ? "✓ stretch" : verdictOf.met ? "✓ met" : "✗ not met";
    lines.push(
      `${name.padEnd(32)}${formatValue(v).padStart(12)}  ${unit.padEnd(6)}${formatTarget(name).padEnd(22)}${mark.padEnd(11)}${what}`,
    );
  }
  lines.push("");
  for (const c of checks) lines.push(`${c.ok ? "✓" : "✗"} ${c.what}`);
  return lines.join("\n");
}
