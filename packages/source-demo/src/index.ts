export { createDemoGenerator, resolveDemoOptions, trafficCurve, MAX_RECORDS_PER_TICK } from "./generator.js";
export type {
  DemoOptions,
  ResolvedDemoOptions,
  DemoGenerator,
  DemoEnvelope,
  DemoGatewayInfo,
} from "./generator.js";
export { DEMO_INCIDENTS, DemoIncidentId } from "./incidents.js";
export type { DemoIncident } from "./incidents.js";
export { DemoSource } from "./demo-source.js";
export type { DemoSourceOptions, DemoSourceStats } from "./demo-source.js";
export { MAX_GATEWAYS } from "./topology.js";
