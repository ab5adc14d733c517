import { createServer } from 'node:http';
import { createService } from './app.js';
import { ConfigError, loadConfig } from './config/load.js';
import type { Config } from './config/schema.js';
import { createLogger } from './log.js';
import { RouteTableError } from './routes/table.js';

function start(): void {
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

  let service;
  try {
    service = createService(config, log);
  } catch (error) {
    if (error instanceof RouteTableError) {
      process.stderr.write(`nginx-authz: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }

  const server = createServer(service.handler);
  // Above NGINX's upstream keepalive_timeout, or NGINX reuses sockets Node already closed.
  server.keepAliveTimeout = config.server.keepAliveTimeoutMs;
  server.headersTimeout = config.server.keepAliveTimeoutMs + 1_000;
  server.listen(config.server.port, config.server.host, () => {
    log.info({ host: config.server.host, port: config.server.port, issuer: config.issuer.url }, 'listening');
  });
  void service.provider.start();

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    service.provider.stop();
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

start();
