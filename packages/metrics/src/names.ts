/** Metric names: `gatewatch_<subsystem>_<name>_<unit>`, counters end in `_total`, base units. */
export const MetricNames = {
  requests: "gatewatch_requests_total",
  requestDuration: "gatewatch_request_duration_seconds",
  backendLatency: "gatewatch_backend_latency_seconds",
  firewallActions: "gatewatch_firewall_actions_total",
  records: "gatewatch_pipeline_records_total",
  deadLetters: "gatewatch_pipeline_dead_letters_total",
  batchDuration: "gatewatch_pipeline_batch_duration_seconds",
  batchesInFlight: "gatewatch_pipeline_batches_in_flight",
  poolQueueDepth: "gatewatch_pipeline_pool_queue_depth",
  insertDuration: "gatewatch_store_insert_duration_seconds",
  rowsWritten: "gatewatch_store_rows_written_total",
  insertRetries: "gatewatch_store_insert_retries_total",
  labelOverflow: "gatewatch_label_overflow_total",
} as const;
