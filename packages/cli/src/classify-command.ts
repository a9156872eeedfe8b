/**
 * `gatewatch classify [FILE|-]` (spec §6, a stable interface): one JSON line per record on stdout in
 * input order, a summary by kind and cause on stderr. Exit 0 unless the input cannot be opened.
 */
import { createReadStream } from "node:fs";
import { once } from "node:events";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { addToSummary, classifyLine, newSummary, type ClassifyOptions } from "@gatewatch/classify";

export async function classifyCommand(
  file: string | undefined,
  options: ClassifyOptions,
  io: { stdin?: Readable; stdout?: NodeJS.WritableStream; stderr?: NodeJS.WritableStream } = {},
): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  let input: Readable;
  if (file === undefined || file === "-") {
    input = io.stdin ?? process.stdin;
  } else {
    input = createReadStream(file);
    try {
      await once(input, "open");
    } catch (err) {
      stderr.write(`gatewatch classify: cannot open ${file}: ${(err as Error).message}\n`);
      return 1;
    }
  }
  const summary = newSummary();
  let out = "";
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    if (line.trim() === "") continue;
    const outputs = classifyLine(line, options);
    addToSummary(summary, outputs);
    for (const o of outputs) out += JSON.stringify(o) + "\n";
    if (out.length >= 64 * 1024) {
      if (!stdout.write(out)) await once(stdout, "drain");
      out = "";
    }
  }
  if (out.length > 0) stdout.write(out);
  stderr.write(JSON.stringify({ summary }) + "\n");
  return 0;
}
