export { GatewatchMetrics } from "./metrics.js";
export type { MetricsOptions } from "./metrics.js";
export { MetricNames } from "./names.js";
export { LabelCap, OTHER } from "./label-cap.js";
export { PreaggregatedHistogram } from "./preaggregated-histogram.js";
