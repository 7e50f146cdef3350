# syntax=docker/dockerfile:1
#
# Security realm appliance image.
#
#   docker build -t security-realm .
#   docker build --build-arg INSTALL_SOFTHSM=true -t security-realm:softhsm .
#   docker build --target release --output type=tar,dest=security-realm.tar .   # host tarball
#
# The image defaults to REALM_ENV=production (PKCS#11 vault and a configured TLS certificate are
# required); pass REALM_ENV=development to try it without an HSM. See deploy/README.md.

ARG NODE_IMAGE=node:20-bookworm
ARG NODE_SLIM_IMAGE=node:20-bookworm-slim

# --- manifests -----------------------------------------------------------------------------
# Every package.json (root and all workspaces: libs/*, apps/*, bench, whatever exists) and the
# lockfile, and nothing else. The whole context is copied and everything else deleted, so new
# workspaces need no change here. This stage re-runs on any source change, but its output only
# changes with a manifest, so the `npm ci` layers below stay cached.
FROM ${NODE_IMAGE} AS manifests
WORKDIR /src
COPY . .
RUN find . -type f ! -name package.json ! -name package-lock.json ! -name .npmrc -delete \
 && find . -mindepth 1 -depth -type d -empty -delete

# --- toolchain for the native addons (better-sqlite3, pkcs11js) -----------------------------
FROM ${NODE_IMAGE} AS toolchain
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
ENV npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false

# --- build: all dependencies, compile with tsc -b ---------------------------------------------
FROM toolchain AS build
WORKDIR /build
COPY --from=manifests /src/ ./
RUN npm ci
# .dockerignore keeps node_modules, dist and *.tsbuildinfo of the context out, so this does not
# overwrite what npm ci installed.
COPY . .
RUN npm run build
# Collect the compiled output of every workspace (*/dist outside node_modules), without
# compiled tests and build info, into /out with the same relative paths.
RUN mkdir /out \
 && find . -path '*/node_modules' -prune -o -type d -name dist -prune -print \
      | xargs -r cp -a --parents -t /out \
 && find /out -type d -path '*/dist/test' -prune -exec rm -rf {} + \
 && find /out -name '*.tsbuildinfo' -delete \
 && test -f /out/apps/realm/dist/src/main.js \
 && test -f /out/apps/realmctl/dist/src/main.js

# --- production dependencies only (native addons compiled for bookworm / Node 20) -----------
FROM toolchain AS prod-deps
WORKDIR /opt/realm
COPY --from=manifests /src/ ./
RUN npm ci --omit=dev

# --- release tree (also exportable as a tarball for a host install) -------------------------
FROM scratch AS release
COPY --from=prod-deps /opt/realm/ /
COPY --from=build /out/ /
# Deployment files: systemd unit, env example, realmctl wrapper, healthcheck, SoftHSM2 script.
COPY deploy/ /deploy/
COPY hsm-config/ /hsm-config/

# --- runtime ------------------------------------------------------------------------------
FROM ${NODE_SLIM_IMAGE} AS runtime
ARG INSTALL_SOFTHSM=false
RUN if [ "$INSTALL_SOFTHSM" = "true" ]; then \
      apt-get update \
      && apt-get install -y --no-install-recommends softhsm2 \
      && rm -rf /var/lib/apt/lists/*; \
    elif [ "$INSTALL_SOFTHSM" != "false" ]; then \
      echo "INSTALL_SOFTHSM must be true or false" >&2; exit 1; \
    fi \
 && groupadd --system --gid 10001 realm \
 && useradd --system --uid 10001 --gid realm --home-dir /opt/realm --no-create-home \
      --shell /usr/sbin/nologin realm \
 && install -d -o realm -g realm -m 0700 /var/lib/realm

WORKDIR /opt/realm
# Owned by root and not writable by the service user.
COPY --from=release / /opt/realm/

ENV NODE_ENV=production \
    REALM_ENV=production \
    REALM_DATA_DIR=/var/lib/realm \
    REALM_HTTP_HOST=0.0.0.0 \
    REALM_HTTP_PORT=8443

VOLUME ["/var/lib/realm"]
USER 10001:10001
EXPOSE 8443

# HTTPS GET /health/live verified against $HEALTHCHECK_CA when set, else a TCP connect to the
# port. Never skips certificate verification. (Not REALM_HEALTHCHECK_CA: unknown REALM_* names
# make the appliance refuse to start.)
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
  CMD ["node", "/opt/realm/deploy/docker/healthcheck.mjs"]

ENTRYPOINT ["node", "apps/realm/dist/src/main.js"]
