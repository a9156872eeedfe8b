/**
 * The replay progress bar (cli-progress) on a terminal, or a plain line every few seconds when
 * stderr is not a terminal; and the final summary.
 */
import { SingleBar } from "cli-progress";
import type { ReplayProgress, ReplaySummary } from "@gatewatch/ingestor";

const MB = 1024 * 1024;

export class ReplayProgressView {
  readonly #bar: SingleBar | undefined;
  #started = false;
  #lastLine = 0;

  constructor(private readonly out: NodeJS.WriteStream) {
    if (out.isTTY) {
      this.#bar = new SingleBar({
        stream: out,
        format:
          " {bar} {percentage}% | {done}/{size} MB | {records} records | {rate} rec/s | ETA {eta_formatted}",
        hideCursor: true,
        etaBuffer: 20,
      });
    }
  }

  update(p: ReplayProgress): void {
    const rate = p.elapsedSeconds > 0 ? Math.round(p.records / p.elapsedSeconds) : 0;
    const payload = {
      done: (p.bytesRead / MB).toFixed(1),
      size: p.totalBytes === null ? "?" : (p.totalBytes / MB).toFixed(1),
      records: p.records,
      rate,
    };
    if (this.#bar) {
      // Without a known size (stdin) the bar has no end: show counts and rate, no ETA.
      const total = p.totalBytes ?? Math.max(p.bytesRead, 1);
      if (!this.#started) {
        this.#bar.start(total, p.bytesRead, payload);
        this.#started = true;
      }
      this.#bar.setTotal(total);
      this.#bar.update(p.bytesRead, payload);
    } else if (p.elapsedSeconds - this.#lastLine >= 5) {
      this.#lastLine = p.elapsedSeconds;
      const pct = p.totalBytes ? ` (${((100 * p.bytesRead) / p.totalBytes).toFixed(0)}%)` : "";
      const eta =
        p.totalBytes && p.bytesRead > 0
          ? `, ETA ${Math.round((p.elapsedSeconds * (p.totalBytes - p.bytesRead)) / p.bytesRead)}s`
          : "";
      this.out.write(
        `replay: ${payload.done}/${payload.size} MB${pct}, ${p.records} records, ${rate} rec/s${eta}\n`,
      );
    }
  }

  stop(): void {
    if (this.#started) this.#bar?.stop();
    this.#started = false;
  }
}

export function formatReplaySummary(s: ReplaySummary): string {
  const rate = s.seconds > 0 ? Math.round(s.records / s.seconds) : s.records;
  return (
    JSON.stringify({
      replay: s.interrupted ? "interrupted" : "done",
      files: s.files,
      bytes: s.bytes,
      seconds: Number(s.seconds.toFixed(2)),
      recordsPerSecond: rate,
      records: s.records,
      kinds: s.kinds,
      rows: s.rows,
      deadLetters: s.deadLetters,
    }) + "\n"
  );
}
