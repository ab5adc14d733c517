# syntax=docker/dockerfile:1
# nginx-authz container image.
#   docker build -t nginx-authz .
#   docker run --rm -p 127.0.0.1:4180:4180 -e AUTHZ_ISSUER_URL=https://idp.example/realms/mlflow \
#     -e AUTHZ_CLIENT_ID=nginx-authz -e AUTHZ_CLIENT_SECRET_FILE=/run/secrets/authz nginx-authz
# docker-compose.yml builds it for the full development stack.

# Node 24 LTS (package.json `engines`; CI runs the tests on the same major through the pinned `node` devDependency).
# ---------------------------------------------------------------- build: TypeScript -> dist/
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# `npm run build` = tsc + copy of src/routes/presets/*.yaml into dist/routes/presets (the shipped route tables).
RUN npm run build && test -f dist/main.js && ls dist/routes/presets/*.yaml

# ---------------------------------------------------------------- runtime: production dependencies + dist/
FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist

# The service's default host is 127.0.0.1 (right beside NGINX on one machine). Inside a container that would be the
# container's own loopback, unreachable from NGINX in another container: listen on all interfaces of the container's
# network namespace instead. Publish the port (if at all) on the host's loopback: -p 127.0.0.1:4180:4180.
ENV AUTHZ_HOST=0.0.0.0
EXPOSE 4180
# From `npm start`: fewer glibc malloc arenas keep the resident size small.
ENV MALLOC_ARENA_MAX=2

# Never root: the image's unprivileged `node` user (uid 1000). The app files stay root-owned, so read-only to it.
USER node

# Liveness only (/healthz never depends on the IdP; /readyz does, see docker-compose.yml). Slim images have no curl:
# ask with node's own fetch. AUTHZ_PORT, if overridden, is honoured.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.AUTHZ_PORT||4180)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# Same as `npm start` (package.json), but node directly: npm as PID 1 would not forward SIGTERM promptly, and the
# service drains in-flight decisions on SIGTERM. The heap flags bound the resident size (see src/main.ts).
CMD ["node", "--max-old-space-size=96", "--max-semi-space-size=2", "--expose-gc", "dist/main.js"]
