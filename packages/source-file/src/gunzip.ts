/**
 * Gunzips a byte stream when it is gzip: forced by the caller (a `.gz` name) or detected by the
 * magic bytes 1f 8b. Concatenated gzip members are read as one stream, as gzip(1) does. Memory stays
 * bounded: zlib's buffers fill, and reading from upstream pauses, while nobody pulls output.
 */
import { Readable } from "node:stream";
import { createGunzip } from "node:zlib";

/** Passes `source` through, gunzipped if it is gzip (or `force`). */
export async function* gunzipIfNeeded(
  source: AsyncIterable<Uint8Array>,
  force: boolean,
): AsyncGenerator<Uint8Array> {
  const it = source[Symbol.asyncIterator]();
  let head: Uint8Array = new Uint8Array(0);
  while (head.length < 2) {
    const r = await it.next();
    if (r.done) break;
    head = head.length === 0 ? r.value : Buffer.concat([head, r.value]);
  }
  const rest = (async function* (): AsyncGenerator<Uint8Array> {
    if (head.length > 0) yield head;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  })();
  const gzip = head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
  if (!gzip && !force) {
    yield* rest;
    return;
  }
  const input = Readable.from(rest, { objectMode: false });
  const gunzip = createGunzip();
  input.on("error", (err) => gunzip.destroy(err));
  input.pipe(gunzip);
  try {
    for await (const chunk of gunzip) yield chunk as Uint8Array;
  } finally {
    input.destroy();
    gunzip.destroy();
  }
}
