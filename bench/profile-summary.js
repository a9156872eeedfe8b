// Summarises a V8 .cpuprofile (from `npm run bench -- --profile DIR`, which runs the end-to-end
// child under `node --cpu-prof`): the functions with the most self time, to see where the main
// thread's time goes. Usage: node bench/profile-summary.js FILE.cpuprofile [--top N]
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { parseArgs } from "node:util";

/** Self time per function (name + location), in ms, largest first, with the share of the total. */
export function summarise(profile, top = 20) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  // Each sample names the node running then; the time until the next sample is that node's.
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]);
    const f = node.callFrame;
    const where = f.url
      ? `${relative(process.cwd(), f.url.replace(/^file:\/\//, ""))}:${f.lineNumber + 1}`
      : "";
    const key = `${f.functionName || "(anonymous)"} ${where}`.trim();
    self.set(key, (self.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([fn, ms]) => ({ fn, ms: Math.round(ms), share: ms / total }));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values, positionals } = parseArgs({
    options: { top: { type: "string", default: "20" } },
    allowPositionals: true,
  });
  for (const file of positionals) {
    console.log(file);
    for (const row of summarise(JSON.parse(readFileSync(file, "utf8")), Number(values.top))) {
      console.log(`${(row.share * 100).toFixed(1).padStart(5)}% ${String(row.ms).padStart(7)} ms  ${row.fn}`);
    }
  }
}
