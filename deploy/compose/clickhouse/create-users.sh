#!/bin/bash
# Creates the compose setup's ClickHouse users with the roles of deploy/clickhouse/users.sql, which the
# image's entrypoint runs just before this (10-gatewatch-roles.sql): `gatewatch` (writer) and `grafana`
# (reader), with the passwords compose.yaml passes in. The entrypoint runs (or, when the file is not
# executable, sources) it once, on an empty data volume, against the server it started on 127.0.0.1.
# No `set -u` or `exit` at the top level: a sourced script would change the entrypoint's own shell.

gatewatch_sql_string() {
  # A single-quoted SQL string literal: backslashes and quotes escaped.
  printf "'%s'" "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/\\\\'/g")"
}

# A granted role is a default role of its user (default roles are ALL unless changed). On failure the
# init stops: `return` when sourced, `exit` when executed.
clickhouse client --host 127.0.0.1 --user "${CLICKHOUSE_USER:-default}" --password "${CLICKHOUSE_PASSWORD:-}" \
  --multiquery <<SQL || return 1 2>/dev/null || exit 1
CREATE USER IF NOT EXISTS gatewatch IDENTIFIED WITH sha256_password BY $(gatewatch_sql_string "${CLICKHOUSE_GATEWATCH_PASSWORD:?}");
GRANT gatewatch_writer TO gatewatch;
CREATE USER IF NOT EXISTS grafana IDENTIFIED WITH sha256_password BY $(gatewatch_sql_string "${CLICKHOUSE_GRAFANA_PASSWORD:?}");
GRANT gatewatch_reader TO grafana;
SQL
