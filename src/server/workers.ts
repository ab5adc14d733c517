import cluster, { type Worker } from 'node:cluster';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { describeTarget, finishSocket, type ListenTarget, prepareSocket } from './listen.js';

/** More than this many worker exits within CRASH_WINDOW_MS means something is wrong at start: give up. */
const CRASH_LIMIT = 5;
const CRASH_WINDOW_MS = 30_000;
const RESTART_DELAY_MS = 500;

/**
 * The cluster primary for `server.workers > 1`: prepares the listener, forks the workers (each runs the
 * whole service and listens on the shared socket or port, node:cluster hands out connections), replaces a
 * worker that dies, and on SIGTERM/SIGINT stops them all, then exits. It serves no request itself.
 */
export async function runPrimary(config: Config, target: ListenTarget, log: Logger): Promise<void> {
  await prepareSocket(target);
  const wanted = config.server.workers;
  let stopping = false;
  let exitStatus = 0;
  let listened = false;
  const exits: number[] = [];

  cluster.on('listening', () => {
    if (listened) return;
    listened = true;
    finishSocket(target);
    log.info({ listen: describeTarget(target), workers: wanted }, 'workers listening');
  });
  cluster.on('exit', (worker: Worker, code: number | null, signal: string | null) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(exitStatus);
      return;
    }
    const now = Date.now();
    exits.push(now);
    while (exits.length > 0 && exits[0]! < now - CRASH_WINDOW_MS) exits.shift();
    log.error({ worker: worker.process.pid, code, signal }, 'worker exited');
    if (exits.length > CRASH_LIMIT) {
      log.fatal({ exits: exits.length, windowMs: CRASH_WINDOW_MS }, 'workers keep exiting: stopping (see the lines above)');
      stopAll('crash-loop', 1);
      return;
    }
    setTimeout(() => {
      if (!stopping) cluster.fork();
    }, RESTART_DELAY_MS).unref();
  });

  const stopAll = (signal: string, status: number): void => {
    if (stopping) return;
    stopping = true;
    exitStatus = status;
    log.info({ signal }, 'shutting down workers');
    const running = Object.values(cluster.workers ?? {});
    if (running.length === 0) process.exit(status);
    for (const worker of running) worker?.process.kill('SIGTERM');
    // Each worker has shutdownGraceMs for in-flight decisions; past that (and a margin) the primary goes anyway.
    setTimeout(() => process.exit(status), config.server.shutdownGraceMs + 2_000).unref();
  };
  process.on('SIGTERM', () => stopAll('SIGTERM', 0));
  process.on('SIGINT', () => stopAll('SIGINT', 0));
  for (let index = 0; index < wanted; index++) cluster.fork();
}
