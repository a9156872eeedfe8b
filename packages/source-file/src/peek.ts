/**
 * Looks at the first bytes of a byte stream without losing them, so the format of an input can be
 * told by its content (the Avro magic) before choosing a reader.
 */

/** The first `n` bytes of `source` (fewer if it is shorter) and the whole stream, `head` included. */
export async function peekBytes(
  source: AsyncIterable<Uint8Array>,
  n: number,
): Promise<{ head: Uint8Array; rest: AsyncGenerator<Uint8Array> }> {
  const it = source[Symbol.asyncIterator]();
  const parts: Uint8Array[] = [];
  let length = 0;
  let done = false;
  while (length < n) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    parts.push(r.value);
    length += r.value.byteLength;
  }
  const head = parts.length === 1 ? parts[0]! : Buffer.concat(parts, length);
  const rest = (async function* (): AsyncGenerator<Uint8Array> {
    if (length > 0) yield head;
    if (done) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  })();
  return { head: head.subarray(0, n), rest };
}
