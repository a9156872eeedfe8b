/**
 * Safe, allocation-light readers for parsed JSON. Only own properties are read (never the prototype
 * chain), so keys such as `__proto__` or `constructor` in a record can neither pollute anything nor be
 * mistaken for data. Placeholders `""` and `"-"` read as absent everywhere (spec §1).
 */

/** A plain JSON object (not an array, not null). */
export type JsonObject = Record<string, unknown>;

/** True for a non-null, non-array object. */
export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The value of an own property, `undefined` when the key is absent or only inherited. */
export function own(obj: JsonObject, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

/**
 * `s` with unpaired surrogates (a JSON escape such as `"\ud800"`) replaced by U+FFFD, as the decoder
 * does for invalid UTF-8 bytes: ClickHouse refuses such a string, which would cost the whole row.
 * `isWellFormed`/`toWellFormed` are native in Node 20 (ES2024; not yet in this TypeScript lib).
 */
function wellFormed(s: string): string {
  const w = s as unknown as { isWellFormed(): boolean; toWellFormed(): string };
  return w.isWellFormed() ? s : w.toWellFormed();
}

/** True for `undefined`, `null`, and strings that are empty or `-` once trimmed. */
export function isBlank(value: unknown): boolean {
  if (value === undefined || value === null) return true;
  if (typeof value !== "string") return false;
  const t = value.trim();
  return t === "" || t === "-";
}

/**
 * A string field: the string as received (untrimmed) unless it is a placeholder; finite numbers are
 * turned into their decimal text (some exports write ids as numbers). Anything else is null.
 */
export function text(value: unknown): string | null {
  if (typeof value === "string") return isBlank(value) ? null : wellFormed(value);
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return null;
}

/**
 * A numeric field: a finite number, or a string holding one decimal number (surrounding spaces
 * allowed). Hex, binary, `Infinity` and other forms `Number()` would accept are refused: `parseFloat`
 * must agree with `Number` on the same text.
 */
export function num(value: unknown): number | null {
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value !== "string" || value.length === 0 || value.length > 64) return null;
  const n = Number(value);
  return Number.isFinite(n) && n === Number.parseFloat(value) ? n : null;
}

/** An integer field (number or numeric string); non-integers are null. */
export function int(value: unknown): number | null {
  const n = num(value);
  return n !== null && Number.isInteger(n) ? n : null;
}

/** JSON text of any value, never throwing (deep nesting, BigInt, cycles give a placeholder). */
export function safeStringify(value: unknown): string {
  try {
    const s = JSON.stringify(value);
    return typeof s === "string" ? s : String(value);
  } catch {
    return "<unserialisable>";
  }
}

/** Cuts `s` to at most `max` UTF-16 units without leaving half a surrogate pair. */
export function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  const limit = Math.max(0, Math.floor(max));
  let end = limit;
  if (end > 0) {
    const last = s.charCodeAt(end - 1);
    if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  }
  return s.slice(0, end);
}

/** One-line, bounded detail text (parser messages can quote input containing newlines). */
export function oneLine(s: string, max = 256): string {
  return truncate(s.replace(/[\r\n\t]+/g, " "), max);
}
