# Berth, the OCI registry, as a small non-root image.
#
#   docker build -t berth .
#   docker run -p 5000:5000 -v berth-data:/var/lib/berth berth
#
# Layers are ordered from the least to the most often changed, so that a code change rebuilds and
# re-pushes only the last layer (dist/), and a dependency change only the last two.
# Node 24 is the LTS Berth targets. BUILD_IMAGE needs node and npm; BASE_IMAGE needs only node (no
# shell: the runtime stage has no RUN). test/deploy/docker-image.test.ts builds both ways: from these
# defaults, and from bases assembled out of the host's own node (scripts/build-image.mjs, which
# builds this Dockerfile on them where Docker Hub cannot be reached).
#
# The labels' version, revision and creation time come from the release build:
#   docker build --build-arg VERSION="$(node -p 'require("./package.json").version')" \
#     --build-arg REVISION="$(git rev-parse HEAD)" --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" -t berth .
ARG BUILD_IMAGE=node:24-bookworm-slim
ARG BASE_IMAGE=node:24-bookworm-slim

# The default configuration and the data directory, owned by the user the server runs as. An
# environment override such as REGISTRY_STORAGE=s3 replaces the filesystem driver named here.
FROM ${BUILD_IMAGE} AS rootfs
RUN mkdir -p /out/etc/berth /out/var/lib/berth \
 && printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /var/lib/berth\nhttp:\n  addr: :5000\n' > /out/etc/berth/config.yml \
 && chown 1000:1000 /out/var/lib/berth \
 && chmod 0755 /out/var/lib/berth

# Production dependencies only, from the lockfile.
FROM ${BUILD_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && rm -rf /root/.npm /tmp/*

# The compiler and its types are needed to build, never to run.
FROM ${BUILD_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund && rm -rf /root/.npm /tmp/*
# The context holds only tsconfig.json and the server's sources, src/, storage-drivers/ and auth/
# (.dockerignore), so tsc builds the server alone; one COPY is one layer to snapshot, not four.
# Source maps are dropped because the .ts files they point at are not in the image.
COPY . .
RUN npx tsc -p tsconfig.json \
 && find dist -name '*.map' -exec rm -f {} + \
 && rm -f dist/.tsbuildinfo \
 && test -f dist/src/main.js

FROM ${BASE_IMAGE}
ENV NODE_ENV=production \
    REGISTRY_CONFIGURATION_PATH=/etc/berth/config.yml
COPY --from=rootfs /out/ /
WORKDIR /app
COPY --from=deps /app/ /app/
COPY --from=build /app/dist /app/dist
# uid 1000 is `node` in the official node images; numeric, so no passwd lookup is needed.
USER 1000:1000
VOLUME /var/lib/berth
EXPOSE 5000
# Last, so that a new revision or date reuses every cached step above.
# One ARG, one LABEL: the classic builder commits a container for every instruction, a full copy of
# the image on storage drivers such as vfs. The project has no public address yet (as in the
# chart's Chart.yaml): pass the real one as SOURCE.
ARG VERSION="" REVISION="" CREATED="" SOURCE=https://berth.example/source
LABEL org.opencontainers.image.title="Berth" \
      org.opencontainers.image.description="An OCI Distribution v1.1 container registry" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"
# Exec form, so no shell is needed: `berth healthcheck` reads the same configuration as `serve` (an
# REGISTRY_HTTP_ADDR override included) and exits 1 unless /healthz answers 200 within 4 s (under
# mutual TLS, with no client pair given, unless the listener answers a TLS 1.3 handshake).
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "/app/dist/src/main.js", "healthcheck"]
ENTRYPOINT ["node", "/app/dist/src/main.js"]
CMD ["serve"]
