export { ClickHouseStore } from "./store.js";
export type { StoreOptions, MigrationReport, MigrateOptions, AlertEventRow, DeadLetterRow } from "./store.js";
export { StoreWriter, defaultRetryPolicy, STORE_REJECTED_REASON } from "./writer.js";
export type { EncodedTable, RetryPolicy, WriterObserver, WriterOptions, WriteReport } from "./writer.js";
export { parseStoreUrl, describeStore, DEFAULT_DATABASE } from "./store-url.js";
export type { StoreTarget } from "./store-url.js";
export { Tables, MIGRATIONS, LATEST_VERSION, DEDUP_WINDOW, defaultRetention } from "./schema.js";
export type { InsertTable, Retention, Migration, SchemaStatement, Placement, TableRef } from "./schema.js";
export { BOOTSTRAP_DDL, renderStatement } from "./schema.js";
export { clusterStatements, assertClusterName, LOCAL_SUFFIX } from "./cluster.js";
export type { ClusterStatement } from "./cluster.js";
export { assertReadOnlySql } from "./read-only.js";
export { classifyStoreError } from "./errors.js";
export {
  queryTrends,
  queryTop,
  queryTransaction,
  queryAlertHistory,
  TOP_DIMENSIONS,
  MAX_TREND_POINTS,
  MINUTE_ROLLUP_MAX_RANGE,
  RAW_MAX_RANGE,
} from "./insights.js";
export type {
  InsightFilters,
  TimeRange,
  TrendsQuery,
  TrendsResult,
  TopDimension,
  TopQuery,
  TopResult,
  TopRow,
  TransactionRows,
  AlertHistoryQuery,
} from "./insights.js";
