-- Roles, settings profiles and quotas for gatewatch on a ClickHouse server or cluster.
--
-- Run it once as a user with access management (access_management = 1):
--   clickhouse client --user admin --multiquery < deploy/clickhouse/users.sql
-- then create the users, with passwords of your own (README.md beside this file):
--   CREATE USER IF NOT EXISTS gatewatch IDENTIFIED WITH sha256_password BY '...';
--   GRANT gatewatch_writer TO gatewatch;
--   CREATE USER IF NOT EXISTS grafana IDENTIFIED WITH sha256_password BY '...';
--   GRANT gatewatch_reader TO grafana;
-- It holds no user and no secret. On a cluster, keep access entities in replicated storage
-- (user_directories: replicated) or add ON CLUSTER '<cluster>' after each name, so every node knows them.
-- The database is `gatewatch`, the path of GATEWATCH_STORE; replace it everywhere if yours differs.
--
-- test/integration/deployment.test.ts parses every statement with ClickHouse's own parser.

-- Writer: `gatewatch run`, `replay`, `migrate` and `dead-letters replay`.
CREATE ROLE IF NOT EXISTS gatewatch_writer;

-- Migrations create the database, its tables, materialized views and the waf_blocks view; later
-- migrations add columns, change TTLs and view queries.
GRANT CREATE DATABASE, CREATE TABLE, CREATE VIEW, ALTER TABLE, ALTER VIEW ON gatewatch.* TO gatewatch_writer;

-- Rows, rollups (through the materialized views), batch_log, alert history, dead letters; reads to
-- resume a partition exactly, rebuild the alert baseline and answer the service's API.
GRANT INSERT, SELECT ON gatewatch.* TO gatewatch_writer;

-- Replicas starting together take turns under a lock: a table that the holder creates and drops.
GRANT DROP TABLE ON gatewatch.schema_migration_lock TO gatewatch_writer;

-- Cluster layout only (GATEWATCH_STORE_CLUSTER): the schema is created with ON CLUSTER DDL.
GRANT CLUSTER ON *.* TO gatewatch_writer;

-- Reader: Grafana, and `gatewatch query`, `trends`, `top`, `explain`, `alerts`, `dead-letters` (the
-- listing) pointed at the server. readonly = 2 reads only, yet lets a client change settings: the
-- Grafana plugin sets max_execution_time on every query and gatewatch's client sets output formats
-- and HTTP compression, which readonly = 1 refuses. readonly itself cannot be lowered by the client;
-- the MAX constraints bound what it may raise.
CREATE SETTINGS PROFILE IF NOT EXISTS gatewatch_reader SETTINGS
  readonly = 2,
  max_execution_time = 60 MAX 300,
  max_memory_usage = 4000000000 MAX 8000000000,
  max_result_rows = 1000000 MAX 10000000,
  result_overflow_mode = 'throw';

CREATE ROLE IF NOT EXISTS gatewatch_reader SETTINGS PROFILE 'gatewatch_reader';

-- The whole database: the waf_blocks view reads requests and firewall_events as the caller.
GRANT SELECT ON gatewatch.* TO gatewatch_reader;

-- Optional: per reader, at most 600 queries and 10 minutes of server time a minute, so that a
-- dashboard left on auto-refresh in many tabs cannot starve the writer.
CREATE QUOTA IF NOT EXISTS gatewatch_reader KEYED BY user_name
  FOR INTERVAL 1 minute MAX queries = 600, execution_time = 600
  TO gatewatch_reader;
