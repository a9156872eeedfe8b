/**
 * Streaming NDJSON line splitter with bounded memory. Lines are numbered from 1 in the order they
 * appear; blank lines use up a number but yield nothing, so positions stay stable whatever the
 * content. A line over `maxLineBytes` keeps its first `maxLineBytes` bytes plus a NUL marker (which no
 * JSON parser accepts) and the rest is discarded as it streams past, so one huge line costs at most
 * `maxLineBytes` of memory and still reaches the decoder, which dead-letters it.
 */

/** One non-blank line. */
export interface Line {
  /** 1-based line number in the input. */
  readonly seq: number;
  /** The line without its `\n` / `\r\n`, in its own ArrayBuffer (transferable). */
  readonly body: Uint8Array;
  /** The line was longer than the limit and has been cut (and NUL-terminated). */
  readonly truncated: boolean;
}

const LF = 0x0a;
const CR = 0x0d;

/** Splits a byte stream into lines; feed chunks with {@link push}, then call {@link end}. */
export class LineSplitter {
  private parts: Uint8Array[] = [];
  private partsLen = 0;
  private truncated = false;
  private lineNo = 0;
  private sawAny = false;

  constructor(private readonly maxLineBytes: number) {}

  /** Lines completed by `chunk`. Iterate fully before pushing the next chunk. */
  *push(chunk: Uint8Array): Generator<Line> {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(LF, start);
      if (nl === -1) {
        this.append(chunk, start, chunk.length);
        return;
      }
      this.append(chunk, start, nl);
      start = nl + 1;
      const line = this.take();
      if (line) yield line;
    }
  }

  /** The last line when the input does not end with a newline. */
  *end(): Generator<Line> {
    if (this.partsLen > 0 || this.truncated) {
      const line = this.take();
      if (line) yield line;
    }
  }

  /** Lines seen so far (including blank ones). */
  get lines(): number {
    return this.lineNo;
  }

  private append(chunk: Uint8Array, from: number, to: number): void {
    if (this.truncated || to <= from) return;
    const room = this.maxLineBytes - this.partsLen;
    if (to - from > room) {
      to = from + room;
      this.truncated = true;
    }
    if (to > from) {
      this.parts.push(chunk.subarray(from, to));
      this.partsLen += to - from;
    }
  }

  private take(): Line | null {
    this.lineNo += 1;
    const parts = this.parts;
    const total = this.partsLen;
    const truncated = this.truncated;
    this.parts = [];
    this.partsLen = 0;
    this.truncated = false;
    const first = !this.sawAny;
    this.sawAny = true;

    let skip = 0;
    // A UTF-8 byte order mark at the very start of the input is not part of the first body.
    if (first && total >= 3) {
      const p0 = flatByte(parts, 0);
      if (p0 === 0xef && flatByte(parts, 1) === 0xbb && flatByte(parts, 2) === 0xbf) skip = 3;
    }
    let len = total;
    if (!truncated && len > skip && flatByte(parts, len - 1) === CR) len -= 1;
    if (!truncated && isBlank(parts, skip, len)) return null;

    const body = new Uint8Array(len - skip + (truncated ? 1 : 0));
    let offset = 0;
    let pos = 0;
    for (const part of parts) {
      const a = Math.max(skip - pos, 0);
      const b = Math.min(len - pos, part.length);
      if (b > a) {
        body.set(part.subarray(a, b), offset);
        offset += b - a;
      }
      pos += part.length;
    }
    // body[last] stays 0: the truncation marker.
    return { seq: this.lineNo, body, truncated };
  }
}

function flatByte(parts: readonly Uint8Array[], index: number): number {
  for (const p of parts) {
    if (index < p.length) return p[index] as number;
    index -= p.length;
  }
  return -1;
}

function isBlank(parts: readonly Uint8Array[], from: number, to: number): boolean {
  let pos = 0;
  for (const p of parts) {
    for (let i = 0; i < p.length; i += 1, pos += 1) {
      if (pos < from) continue;
      if (pos >= to) return true;
      const c = p[i];
      if (c !== 0x20 && c !== 0x09 && c !== CR) return false;
    }
  }
  return true;
}
