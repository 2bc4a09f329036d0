# Berth, the OCI registry, as a small non-root image.
#
#   docker build -t berth .
#   docker run -p 5000:5000 -v berth-data:/var/lib/berth berth
#
# Layers are ordered from the least to the most often changed, so that a code change rebuilds and
# re-pushes only the last layer (dist/), and a dependency change only the last two.
# BUILD_IMAGE needs node 20 and npm; BASE_IMAGE needs only node 20 (no shell: the runtime stage has
# no RUN). The tests build both from the host's own node (test/helpers/base-image.ts).
ARG BUILD_IMAGE=node:20-bookworm-slim
ARG BASE_IMAGE=node:20-bookworm-slim

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
ENTRYPOINT ["node", "/app/dist/src/main.js"]
CMD ["serve"]
