export {
  buildPrometheusRules,
  SPIKE_FACTOR,
  SPIKE_FLOOR_PER_SECOND,
  spikeCauses,
} from "./prometheus-rules.js";
