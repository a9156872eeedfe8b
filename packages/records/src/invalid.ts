import { oneLine, truncate } from "./read.js";
import type { InvalidReason, InvalidRecord } from "./types.js";

/** Default of {@link DecodeOptions.maxRawChars}. */
export const DEFAULT_MAX_RAW_CHARS = 4096;

/** Default of {@link DecodeOptions.maxBodyBytes}: 4 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

/** Builds an invalid record with a one-line detail and a raw text cut to `maxRawChars`. */
export function invalidRecord(
  index: number,
  reason: InvalidReason,
  detail: string,
  raw: string,
  maxRawChars: number,
): InvalidRecord {
  return { kind: "invalid", index, reason, detail: oneLine(detail), raw: truncate(raw, maxRawChars) };
}
