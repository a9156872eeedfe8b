export type { SourceBatch, BatchHandler, Source, BatchLimits } from "./contracts.js";
export { defaultBatchLimits } from "./contracts.js";
