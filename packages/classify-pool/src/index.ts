export { ClassifyPool } from "./pool.js";
export type { ClassifyPoolOptions, PoolBatch } from "./pool.js";
export { classifyBatch, packBodies } from "./classify-batch.js";
export type { ClassifyTask, ClassifyResult, TableRows } from "./classify-batch.js";
export { DURATION_BUCKETS, DeltaBuilder } from "./deltas.js";
export type { MetricDeltas, HistogramDelta } from "./deltas.js";
