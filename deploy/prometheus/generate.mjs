// Writes deploy/prometheus/gatewatch.rules.yml from the built @gatewatch/alerting package.
// Run: npx tsc -b packages/alerting && node deploy/prometheus/generate.mjs
import { writeFileSync } from "node:fs";
import { buildPrometheusRules } from "@gatewatch/alerting";

writeFileSync(new URL("gatewatch.rules.yml", import.meta.url), buildPrometheusRules());
