export { CATALOG, CAUSE_IDS, ORIGINS, RULES, causeInfo, isCauseId } from "./catalog.js";
export {
  classifyAccess,
  DEFAULT_BACKEND_TIMEOUT_SECONDS,
  ERROR_INFO,
  PASSTHROUGH,
  STATUS_ONLY,
} from "./access-rules.js";
export { classifyL4, L4_CAUSES } from "./l4-rules.js";
export { statusClass } from "./status-class.js";
export type { StatusClass } from "./status-class.js";
export { classifyLine, toClassifyOutput } from "./output.js";
export type {
  AccessOutput,
  ClassifyLineOptions,
  ClassifyOutput,
  FirewallOutput,
  InvalidOutput,
  L4Output,
  PerformanceOutput,
  UnsupportedOutput,
} from "./output.js";
export { addToSummary, newSummary } from "./summary.js";
export { renderCauseDoc, renderCauseIndex } from "./cause-docs.js";
export type { ClassifySummary } from "./summary.js";
export { Origin } from "./types.js";
export type { CauseId, CauseInfo, Classification, ClassifyOptions, RuleId, Severity } from "./types.js";
