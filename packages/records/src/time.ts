/**
 * Record time parsing (spec §1 `time`). Accepted, all read as UTC unless an offset is given:
 *
 * - ISO-8601 date-time: `2021-10-14T22:17:11+00:00`, `2017-04-26T19:27:38.1234567Z` (any number of
 *   fraction digits; sub-millisecond digits are dropped), `2021-10-14 22:17:11Z`, offsets `Z`, `±HH`,
 *   `±HHMM`, `±HH:MM`. Without an offset the time is taken as UTC, never as the host's local time.
 * - The US forms some Azure diagnostic records carry: `10/10/2023 13:26:34` and
 *   `1/9/2007 9:41:00 AM` (month/day/year, 24-hour or AM/PM, seconds optional), taken as UTC.
 *
 * Everything else (numbers, date-only strings, impossible dates such as Feb 30, hour 24) is refused,
 * so the record becomes `invalid` with reason `bad_time`. `Date.parse` is deliberately not used: it
 * reads offset-less ISO strings as local time and accepts many non-dates.
 */

const ISO =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(?:\s*([Zz]|[+-]\d{2}(?::?\d{2})?))?$/;
const US = /^(\d{1,2})\/(\d{1,2})\/(\d{4})[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s*([AaPp])\.?[Mm]\.?)?$/;

/** Longest time string worth looking at; real values are ~35 characters. */
const MAX_TIME_CHARS = 64;

function daysInMonth(year: number, month: number): number {
  if (month === 2) {
    const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
    return leap ? 29 : 28;
  }
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Epoch ms for validated UTC fields, or null when a field is out of range. */
function utcMs(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  ms: number,
): number | null {
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  if (year >= 100) return Date.UTC(year, month - 1, day, hour, minute, second, ms);
  // Date.UTC maps years 0..99 to 1900..1999; setUTCFullYear does not.
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, ms);
  const t = d.getTime();
  return Number.isFinite(t) ? t : null;
}

function offsetMinutes(zone: string | undefined): number | null {
  if (zone === undefined || zone === "Z" || zone === "z") return 0;
  const sign = zone.startsWith("-") ? -1 : 1;
  const digits = zone.slice(1).replace(":", "");
  const hh = Number(digits.slice(0, 2));
  const mm = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
  if (hh > 23 || mm > 59) return null;
  return sign * (hh * 60 + mm);
}

/**
 * Parses a record time value into epoch milliseconds (UTC), or null when it is not a string in one of
 * the accepted forms.
 */
export function parseRecordTime(value: unknown): number | null {
  if (typeof value !== "string" || value.length > MAX_TIME_CHARS) return null;
  const s = value.trim();
  const iso = ISO.exec(s);
  if (iso !== null) {
    const fraction = iso[7] ?? "";
    const ms = fraction === "" ? 0 : Number((fraction + "00").slice(0, 3));
    const base = utcMs(
      Number(iso[1]),
      Number(iso[2]),
      Number(iso[3]),
      Number(iso[4]),
      Number(iso[5]),
      Number(iso[6] ?? "0"),
      ms,
    );
    const offset = offsetMinutes(iso[8]);
    if (base === null || offset === null) return null;
    return base - offset * 60_000;
  }
  const us = US.exec(s);
  if (us !== null) {
    let hour = Number(us[4]);
    const meridiem = us[7]?.toLowerCase();
    if (meridiem !== undefined) {
      if (hour < 1 || hour > 12) return null;
      if (meridiem === "a") hour = hour === 12 ? 0 : hour;
      else hour = hour === 12 ? 12 : hour + 12;
    }
    return utcMs(Number(us[3]), Number(us[1]), Number(us[2]), hour, Number(us[5]), Number(us[6] ?? "0"), 0);
  }
  return null;
}
