/**
 * Event Hubs body -> normalised records. A body is an envelope `{"records":[...]}` or one bare record.
 *
 * Bytes are decoded as UTF-8 with replacement (not fatal): a stray invalid byte is almost always in a
 * free-text field (user agent, URI) and must not cost the whole batch of records. A leading BOM is
 * dropped. Never throws.
 */
import { DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_RAW_CHARS, invalidRecord } from "./invalid.js";
import { normaliseRecord } from "./normalise.js";
import { isObject, own } from "./read.js";
import type { DecodeOptions, NormalisedRecord } from "./types.js";

const decoder = new TextDecoder("utf-8");

/** UTF-8 length of `s` is above `max`? Exact, but only walks the string when it could be. */
function utf8Exceeds(s: string, max: number): boolean {
  if (s.length > max) return true; // every UTF-16 unit is at least one byte
  if (s.length * 3 <= max) return false; // no UTF-16 unit is more than three bytes
  let bytes = 0;
  for (let i = 0; i < s.length; i += 1) {
    const c = s.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      bytes += 4;
      i += 1;
    } else bytes += 3;
    if (bytes > max) return true;
  }
  return false;
}

function isJsonWhitespaceOnly(s: string): boolean {
  for (let i = 0; i < s.length; i += 1) {
    const c = s.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return false;
  }
  return true;
}

function decodeBytes(body: Uint8Array): string {
  try {
    return decoder.decode(body);
  } catch {
    // e.g. a view on a SharedArrayBuffer, which TextDecoder refuses: decode a private copy.
    return decoder.decode(body.slice());
  }
}

function decodeUnchecked(body: Uint8Array | string, opts: DecodeOptions | undefined): NormalisedRecord[] {
  const maxBytes = opts?.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const maxRaw = opts?.maxRawChars ?? DEFAULT_MAX_RAW_CHARS;
  let text: string;
  if (typeof body === "string") {
    if (utf8Exceeds(body, maxBytes)) {
      return [
        invalidRecord(-1, "body_too_large", `body is over ${maxBytes} bytes`, body.slice(0, maxRaw), maxRaw),
      ];
    }
    text = body;
  } else if (body instanceof Uint8Array) {
    if (body.byteLength > maxBytes) {
      const head = decodeBytes(body.subarray(0, maxRaw));
      return [
        invalidRecord(
          -1,
          "body_too_large",
          `body is ${body.byteLength} bytes, over ${maxBytes}`,
          head,
          maxRaw,
        ),
      ];
    }
    text = decodeBytes(body);
  } else {
    return [invalidRecord(-1, "not_json", "body is neither bytes nor text", "", maxRaw)];
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (isJsonWhitespaceOnly(text)) return [invalidRecord(-1, "empty_body", "body is empty", text, maxRaw)];

  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    const message = err instanceof Error ? err.message : "unparsable JSON";
    return [invalidRecord(-1, "not_json", message, text, maxRaw)];
  }
  if (!isObject(parsed)) {
    const what = parsed === null ? "null" : Array.isArray(parsed) ? "an array" : `a ${typeof parsed}`;
    return [invalidRecord(-1, "not_object", `body is ${what}, not an object`, text, maxRaw)];
  }
  if (!Object.hasOwn(parsed, "records")) return [normaliseRecord(parsed, 0, opts)];
  const records = own(parsed, "records");
  if (!Array.isArray(records)) {
    return [invalidRecord(-1, "records_not_array", "the envelope's records is not an array", text, maxRaw)];
  }
  const out: NormalisedRecord[] = new Array<NormalisedRecord>(records.length);
  for (let i = 0; i < records.length; i += 1) out[i] = normaliseRecord(records[i], i, opts);
  return out;
}

/**
 * Decodes one Event Hubs body (an envelope `{"records":[...]}` or a single bare record) into
 * normalised records, in body order. Never throws:
 *
 * - over `maxBodyBytes` -> one `body_too_large` invalid (index -1), nothing parsed;
 * - empty or whitespace -> `empty_body`; not JSON -> `not_json` (the parser message is the detail);
 * - JSON that is not an object -> `not_object`; `records` not an array -> `records_not_array`;
 * - each element of `records` is normalised on its own: a bad one becomes an invalid with its index.
 *
 * An envelope with an empty `records` array yields no records.
 */
export function decodeBody(body: Uint8Array | string, opts?: DecodeOptions): NormalisedRecord[] {
  try {
    return decodeUnchecked(body, opts);
  } catch (err) {
    // Defensive: nothing above is expected to throw.
    const message = err instanceof Error ? err.message : "unknown error";
    return [
      invalidRecord(
        -1,
        "not_json",
        `body could not be decoded: ${message}`,
        "",
        opts?.maxRawChars ?? DEFAULT_MAX_RAW_CHARS,
      ),
    ];
  }
}
