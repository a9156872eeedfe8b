export type { SourceBatch, BatchHandler, Source, BatchLimits } from "./contracts.js";
export { defaultBatchLimits } from "./contracts.js";
export { GatewatchError, isGatewatchError } from "./errors.js";
export { AckTracker } from "./ack-tracker.js";
export { Semaphore } from "./semaphore.js";
export { Engine } from "./engine.js";
export type { Classifier, Sink, EngineHooks, EngineOptions, EngineStats } from "./engine.js";
