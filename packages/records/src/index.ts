export { decodeBody } from "./decode.js";
export { normaliseRecord } from "./normalise.js";
export { parseRecordTime } from "./time.js";
export { DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_RAW_CHARS } from "./invalid.js";
export { InvalidReason, RecordKind } from "./types.js";
export type {
  AccessRecord,
  DecodeOptions,
  FirewallAction,
  FirewallRecord,
  InvalidRecord,
  L4Record,
  NormalisedRecord,
  PerformanceRecord,
  RecordBase,
  Sku,
  UnsupportedRecord,
} from "./types.js";
