import cluster from 'node:cluster';
import { createServer } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { getHeapStatistics } from 'node:v8';
import { createService } from './app.js';
import { runCheck } from './check.js';
import { ConfigError, loadConfig } from './config/load.js';
import type { Config } from './config/schema.js';
import { createLogger, type Logger } from './log.js';
import { exposedGc, IdleCollector } from './ops/idle-gc.js';
import { RouteTableError } from './routes/table.js';
import { describeTarget, finishSocket, ListenError, listenTarget, prepareSocket } from './server/listen.js';
import { runPrimary } from './server/workers.js';

/** How long a worker waits for its issuers' discovery before it listens anyway (see below). */
const WORKER_DISCOVERY_WAIT_MS = 30_000;

async function start(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`nginx-authz: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const log = createLogger(config.log.level);
  const target = listenTarget(config.server);
  try {
    if (cluster.isPrimary && config.server.workers > 1) {
      await runPrimary(config, target, log);
      return;
    }
    // A worker's listener is the primary's, which prepared the socket file already.
    if (cluster.isPrimary) await prepareSocket(target);
  } catch (error) {
    if (error instanceof ListenError) {
      process.stderr.write(`nginx-authz: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }

  let service: ReturnType<typeof createService>;
  try {
    service = createService(config, log);
  } catch (error) {
    if (error instanceof RouteTableError) {
      process.stderr.write(`nginx-authz: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }

  // NGINX passes the client's headers on (4 × 8 KB by default, large_client_header_buffers) plus its own:
  // above Node's 16 KB default, so a large but valid request is decided (403/401) instead of answered 431 (a 500 through NGINX).
  // With `--expose-gc`, one full collection whenever the service goes quiet after serving (src/ops/idle-gc.ts).
  const gc = exposedGc();
  const idle = gc === undefined ? undefined : new IdleCollector(gc);
  const handler = service.handler;
  const server = createServer(
    { maxHeaderSize: 64 * 1024 },
    idle === undefined
      ? handler
      : (req, res) => {
          idle.touch();
          handler(req, res);
        },
  );
  idle?.start();
  server.on('error', (error: NodeJS.ErrnoException) => {
    // Before listening: the address is taken or not ours. One line saying what to change, no stack trace.
    process.stderr.write(`nginx-authz: ${listenProblem(error, describeTarget(target))}\n`);
    process.exit(1);
  });
  // Above NGINX's upstream keepalive_timeout, or NGINX reuses sockets Node already closed.
  server.keepAliveTimeout = config.server.keepAliveTimeoutMs;
  server.headersTimeout = config.server.keepAliveTimeoutMs + 1_000;
  const address = target.kind === 'unix' ? { path: target.path } : { host: target.host, port: target.port };
  void service.start();
  // node:cluster hands a worker its share of connections as soon as it listens. A worker still discovering its
  // issuers would answer that share 503 while its siblings could decide it (at start, and for a worker that
  // replaces one that died): a worker joins once discovery is done. The wait is bounded so that with the IdP
  // down at start the worker still listens, fails closed like a single process, and /readyz says why.
  if (cluster.isWorker) await Promise.race([service.issuers.start(), delay(WORKER_DISCOVERY_WAIT_MS, undefined, { ref: false })]);
  server.listen(address, () => {
    if (cluster.isPrimary) finishSocket(target);
    log.info(
      {
        listen: describeTarget(target),
        worker: cluster.isWorker ? cluster.worker?.id : undefined,
        issuers: config.issuers.map((issuer) => `${issuer.id}=${issuer.mode}`),
      },
      'listening',
    );
  });
  warnIfCachesMayNotFit(config, log);

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    idle?.stop();
    service.stop();
    server.close(() => process.exit(0));
    server.closeIdleConnections();
    setTimeout(() => {
      server.closeAllConnections();
      process.exit(0);
    }, config.server.shutdownGraceMs).unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

/** `cannot listen on 127.0.0.1:4180: address in use; ...` */
function listenProblem(error: NodeJS.ErrnoException, at: string): string {
  const where = `cannot listen on ${at}`;
  const unix = at.startsWith('unix:');
  switch (error.code) {
    case 'EADDRINUSE':
      return `${where}: address in use (another process listens there); stop it, or set ${unix ? 'AUTHZ_LISTEN' : 'AUTHZ_PORT (server.port)'}`;
    case 'EACCES':
      return unix
        ? `${where}: permission denied (the socket's directory must be writable by this user); set AUTHZ_LISTEN (server.listen)`
        : `${where}: permission denied (ports below 1024 need privileges); set AUTHZ_PORT (server.port)`;
    case 'ENOENT':
      return `${where}: the socket's directory does not exist; create it or set AUTHZ_LISTEN (server.listen)`;
    case 'EADDRNOTAVAIL':
      return `${where}: no such address on this machine; set AUTHZ_HOST (server.host)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `${where}: the host name does not resolve; set AUTHZ_HOST (server.host)`;
    default:
      return `${where}: ${error.code ?? error.message}`;
  }
}

/**
 * The caches are bounded by entry counts and estimated bytes; the heap is bounded by V8's limit (`npm start` and
 * the image set --max-old-space-size to keep the resident size small). Say so at start if
 * the configured bounds could outgrow the heap, rather than failing under load.
 */
function warnIfCachesMayNotFit(config: Config, log: Logger): void {
  // Measured under Node 24 (live heap after GC, key, value, Map entry and the LRU's slots; scripts/mem-per-entry.mjs):
  // ≈ 107 bytes a cached decision, ≈ 445 a cached identity (the bench's tokens; 123 and 701 before allows became
  // small integers and identities shared their group lists and token-hash key).
  const BYTES_PER_DECISION = 150;
  const BYTES_PER_IDENTITY = 650;
  const BASELINE = 48 * 1024 * 1024; // heap in use by an idle service, with headroom
  const LOOKUP_CACHES = 8 * 1024 * 1024; // the protection API's name and URI lookups, 4 MiB each at most
  // Each cache stops at whichever bound it reaches first: its entry count or its byte budget.
  const needed =
    Math.min(config.cache.maxEntries * BYTES_PER_DECISION, config.cache.maxBytes) +
    Math.min(config.cache.tokenMaxEntries * BYTES_PER_IDENTITY, config.cache.tokenMaxBytes) +
    LOOKUP_CACHES +
    BASELINE;
  const limit = getHeapStatistics().heap_size_limit;
  if (needed > limit) {
    log.warn(
      { neededMb: Math.round(needed / 2 ** 20), heapLimitMb: Math.round(limit / 2 ** 20) },
      'cache bounds may exceed the heap limit: raise --max-old-space-size or lower cache.maxBytes / cache.tokenMaxBytes',
    );
  }
}

// `node dist/main.js check [METHOD PATH]`, or `--check` anywhere (`npm start -- --check`): validate and exit.
const args = process.argv.slice(2);
const checkAt = args.findIndex((arg) => arg === 'check' || arg === '--check');
if (checkAt >= 0) {
  runCheck(
    args.filter((_, index) => index !== checkAt),
    process.env,
    (line) => process.stdout.write(`${line}\n`),
  ).then(
    (status) => process.exit(status),
    (error: unknown) => {
      process.stderr.write(`nginx-authz check: ${(error as Error).message}\n`);
      process.exit(1);
    },
  );
} else {
  void start();
}
