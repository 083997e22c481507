# syntax=docker/dockerfile:1
# One image for every part (worker, HTTP server, simulator); the compose file picks the command.

# Dependencies, built where compilers exist (better-sqlite3 and the like may need them).
FROM node:20.19-bookworm AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

# The runtime: no compilers, no npm cache, not root.
FROM node:20.19-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    DATA_DIR=/data
WORKDIR /app
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --chown=root:root package.json ./
COPY --chown=root:root bin ./bin
COPY --chown=root:root src ./src
# The one writable place: assets, the webhook secret, the SQLite catalog when no DATABASE_URL.
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 3000 4000 9464 9465
CMD ["node", "--import", "tsx", "src/server.ts"]
