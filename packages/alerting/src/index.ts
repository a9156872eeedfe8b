export {
  buildPrometheusRules,
  SPIKE_FACTOR,
  SPIKE_FLOOR_PER_SECOND,
  spikeCauses,
} from "./prometheus-rules.js";
export type { RuleTiming } from "./prometheus-rules.js";
export { SpikeDetector, DEFAULT_POLICIES, policyFor, parsePolicyOverrides } from "./spike-detector.js";
export type {
  SpikePolicy,
  PolicyOverrides,
  SpikeAlert,
  SpikeTransition,
  SpikeDetectorOptions,
} from "./spike-detector.js";
