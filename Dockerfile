# syntax=docker/dockerfile:1
#
# gatewatch service image.
#
#   docker build -t gatewatch:0.1.0 .                                # server store only (~80 MB of node_modules)
#   docker build -t gatewatch:0.1.0-embedded --build-arg WITH_EMBEDDED=true .   # + embedded ClickHouse (chdb, ~550 MB)
#
# The default image stores into a ClickHouse server (GATEWATCH_STORE=http(s)://...). The embedded
# engine (chdb) is loaded lazily, only for an `embedded:` store, so leaving it out costs nothing else;
# an image without it refuses `embedded:` stores ("Cannot find package 'chdb'").
#
# test/integration/deployment.test.ts checks this file (pinned bases, non-root numeric USER, exec-form
# ENTRYPOINT, HEALTHCHECK, every workspace manifest copied) and runs its dependency steps on a copy of
# the repository: the production tree starts and serves /readyz against a ClickHouse HTTP server.

# One pinned Node 20 (the version CI runs), the same in both stages: glibc (Debian), which chdb's
# prebuilt library needs, so WITH_EMBEDDED=true images work without another base.
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

# ---------------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
ENV npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

# Manifests first, so the dependency layer is rebuilt only when they change. Every workspace's
# package.json must be listed (the test compares this list with packages/* and services/*).
COPY package.json package-lock.json tsconfig.json tsconfig.base.json ./
COPY packages/alerting/package.json packages/alerting/
COPY packages/classify/package.json packages/classify/
COPY packages/classify-pool/package.json packages/classify-pool/
COPY packages/cli/package.json packages/cli/
COPY packages/metrics/package.json packages/metrics/
COPY packages/pipeline/package.json packages/pipeline/
COPY packages/records/package.json packages/records/
COPY packages/source-demo/package.json packages/source-demo/
COPY packages/source-eventhubs/package.json packages/source-eventhubs/
COPY packages/source-file/package.json packages/source-file/
COPY packages/source-kafka/package.json packages/source-kafka/
COPY packages/store-clickhouse/package.json packages/store-clickhouse/
COPY services/ingestor/package.json services/ingestor/
# `npm ci` refuses this lockfile (it lacks chdb's and vite's optional entries for other platforms, see
# .ci/run); `npm install` installs exactly the locked versions of everything else.
RUN npm install --no-audit --no-fund

COPY packages packages
COPY services services
RUN npm run build

# Production dependencies only; without WITH_EMBEDDED=true also without chdb and its platform
# library. chdb is a dependency of the root and of @gatewatch/store-clickhouse, so `npm uninstall`
# would keep it: the directories are removed instead (only an `embedded:` store imports it).
ARG WITH_EMBEDDED=false
RUN npm prune --omit=dev --no-audit --no-fund \
  && if [ "$WITH_EMBEDDED" != "true" ]; then rm -rf node_modules/chdb node_modules/@chdb; fi \
  && rm -rf packages/*/src packages/*/test packages/*/tsconfig.json packages/*/dist/.tsbuildinfo \
    services/*/src services/*/test services/*/tsconfig.json services/*/dist/.tsbuildinfo

# ---------------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime

# npm and yarn are not needed to run: fewer files, fewer CVEs to triage. The service runs as UID/GID
# 10001, numeric so that Kubernetes' runAsNonRoot can verify it; it needs no passwd entry. /app/data
# is the default embedded store's directory (WITH_EMBEDDED=true), writable by that user only.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/bin/npm /usr/local/bin/npx /opt/yarn-* \
    /usr/local/bin/yarn /usr/local/bin/yarnpkg \
  && mkdir -p /app/data \
  && chown 10001:10001 /app/data \
  && chmod 0700 /app/data

WORKDIR /app
COPY --from=build /src/package.json /src/package-lock.json ./
COPY --from=build /src/node_modules node_modules
COPY --from=build /src/packages packages
COPY --from=build /src/services services

# In a container the HTTP server (/metrics, /healthz, /readyz, /api) must listen beyond loopback, or
# neither the port mapping, nor Prometheus, nor the kubelet's probes reach it. Put the API behind
# GATEWATCH_API_TOKEN (or a network policy) wherever the port is reachable by others.
ENV NODE_ENV=production \
    GATEWATCH_LISTEN_HOST=0.0.0.0

USER 10001:10001
EXPOSE 9464
# SIGTERM drains: stop reading, finish admitted batches, flush, checkpoint, close (bounded by
# GATEWATCH_SHUTDOWN_TIMEOUT_SECONDS, default 30; give the container runtime more than that).
STOPSIGNAL SIGTERM
# No curl in slim images: Node's fetch asks /healthz on the configured port.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.GATEWATCH_LISTEN_PORT || 9464}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form: node is PID 1 and receives SIGTERM itself.
ENTRYPOINT ["node", "/app/packages/cli/bin/gatewatch.js"]
CMD ["run"]
