/** Bounded status-class label values for metrics. */
export type StatusClass = "0xx" | "1xx" | "2xx" | "3xx" | "4xx" | "5xx" | "other";

const CLASSES: readonly StatusClass[] = ["0xx", "1xx", "2xx", "3xx", "4xx", "5xx"];

/**
 * The class of an HTTP status for metric labels: `0xx` for 0..99 (v1 logs 0 when the client went
 * away), `1xx`..`5xx`, and `other` for anything else (negative, 600+, non-integer, NaN).
 */
export function statusClass(status: number): StatusClass {
  if (!Number.isInteger(status) || status < 0 || status > 599) return "other";
  return CLASSES[Math.floor(status / 100)] ?? "other";
}
