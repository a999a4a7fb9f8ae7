# syntax=docker/dockerfile:1
#
# rtb-bidder image: `docker build -t rtb-bidder .` from the repository root.
#
# Three stages on the same Debian base (glibc: uWebSockets.js ships prebuilt glibc binaries and,
# on a libc it cannot load, silently falls back to a slow pure-JS server; Alpine/musl is not an
# option):
#   deps    production node_modules only (`npm ci --omit=dev`), pruned to this platform
#   build   the full dev install and `npm run build` (tsc, and Vite for the web console) -> dist/
#   runtime node_modules from deps, dist/src and dist/console from build, package.json, proto/ and config/ from the
#           context; non-root, nothing installed or compiled at run time
#
# Build arguments:
#   WITH_CHDB=false (default)  leave out chDB (embedded ClickHouse, ~550 MB native library, an optional
#                              dependency). The image then needs CLICKHOUSE_URL: without it the bidder
#                              refuses to start ("chdb: no native binding ..."). Production fleets write to
#                              a ClickHouse server anyway; node_modules is ~65 MB instead of ~610 MB.
#   WITH_CHDB=true             keep chDB, so the image also runs with no ClickHouse at all (a demo, a
#                              single box): `docker build --build-arg WITH_CHDB=true -t rtb-bidder:chdb .`
#   NODE_VERSION=20            the Node.js major line (the uWebSockets.js binaries are per Node ABI).

ARG NODE_VERSION=20

FROM node:${NODE_VERSION}-bookworm-slim AS deps
ARG WITH_CHDB=false
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=optional drops chDB's native library (and ws's optional native helpers, unused: uWS serves HTTP).
RUN if [ "$WITH_CHDB" = "true" ]; then omit=""; else omit="--omit=optional"; fi \
 && npm ci --omit=dev $omit --no-audit --no-fund \
 && npm cache clean --force
# uWebSockets.js ships 18 binaries (every OS, CPU and Node ABI, ~110 MB): keep the one this Node loads,
# and fail the build here if it does not load (rather than at run time on the JS fallback).
RUN node -e " \
  const fs = require('fs'); \
  const dir = 'node_modules/uWebSockets.js/binaries/'; \
  const keep = 'uws_' + process.platform + '_' + process.arch + '_' + process.versions.modules + '.node'; \
  require('./' + dir + keep); \
  for (const f of fs.readdirSync(dir)) if (f !== keep) fs.rmSync(dir + f); \
  console.log('uWebSockets.js native binary:', keep);"

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bench ./bench
COPY console ./console
RUN npm run build

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ARG WITH_CHDB=false
LABEL org.opencontainers.image.title="rtb-bidder" \
      org.opencontainers.image.description="OpenRTB 2.5/2.6 demand-side bidder on uWebSockets.js" \
      org.opencontainers.image.licenses="Apache-2.0" \
      io.rtb-bidder.with-chdb="${WITH_CHDB}"
# A fixed numeric uid/gid, so that Kubernetes' runAsNonRoot can verify it and volumes can be chowned to it.
RUN groupadd --system --gid 10001 bidder \
 && useradd --system --uid 10001 --gid bidder --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin bidder \
 && mkdir -p /var/lib/bidder \
 && chown bidder:bidder /var/lib/bidder
WORKDIR /app
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    ADMIN_PORT=8081 \
    CONFIG_DIR=/app/config \
    DATA_DIR=/var/lib/bidder
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
# The web console (static files the admin port serves at /).
COPY --from=build /app/dist/console ./dist/console
# package.json's "type": "module" makes Node load dist/ as ES modules.
COPY package.json ./
# proto/ is found by walking up from dist/src (OpenRTB protobuf schema); config/ is the demo campaign set,
# replaced in production by a mounted directory (a ConfigMap in deploy/k8s).
COPY proto ./proto
COPY config ./config
USER 10001:10001
EXPOSE 8080 8081
# The bidder handles SIGTERM itself: /readyz fails, the listener stays open SHUTDOWN_DELAY_MS (default 0)
# with `Connection: close` on every answer, in-flight requests finish and events are flushed to the store
# or the spool within SHUTDOWN_TIMEOUT_MS (default 10 s), then it exits. Give it a grace period longer
# than both: compose stop_grace_period, Kubernetes terminationGracePeriodSeconds.
STOPSIGNAL SIGTERM
# No curl in the slim image: Node's own fetch asks /healthz on the admin port.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.ADMIN_PORT || 8081) + '/healthz', { signal: AbortSignal.timeout(2500) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Not `npm start`: it compiles TypeScript, and the image has neither the compiler nor the sources.
CMD ["node", "dist/src/main.js"]
