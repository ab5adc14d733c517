import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import type { Config } from '../config/schema.js';

/** Where the service listens: loopback TCP (the default) or a unix socket file (`server.listen: unix:/path`). */
export type ListenTarget = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string; mode: number };

/** Thrown when the listener cannot be prepared; the message says what to change. */
export class ListenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ListenError';
  }
}

/** The listen target the configuration names: `server.listen` wins over `server.host`/`server.port`. */
export function listenTarget(server: Config['server']): ListenTarget {
  if (server.listen !== undefined) {
    return { kind: 'unix', path: server.listen.slice('unix:'.length), mode: Number.parseInt(server.socketMode, 8) };
  }
  return { kind: 'tcp', host: server.host, port: server.port };
}

/** `127.0.0.1:4180`, `[::1]:4180` or `unix:/run/nginx-authz.sock`, for log lines and errors. */
export function describeTarget(target: ListenTarget): string {
  if (target.kind === 'unix') return `unix:${target.path}`;
  return `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
}

/**
 * Before listening on a unix socket: a socket file left by a crashed process is removed (nobody answers on it);
 * a socket another process still serves, or a file that is not a socket, is refused rather than deleted.
 * Also sets the umask so the socket is created with no more than `mode` allows (no window where it is wider).
 */
export async function prepareSocket(target: ListenTarget): Promise<void> {
  if (target.kind !== 'unix') return;
  process.umask(0o777 & ~target.mode);
  let isSocket: boolean;
  try {
    isSocket = lstatSync(target.path).isSocket();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new ListenError(`cannot use unix:${target.path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  if (!isSocket)
    throw new ListenError(`cannot listen on unix:${target.path}: the file exists and is not a socket; remove it or set AUTHZ_LISTEN`);
  if (await answers(target.path)) {
    throw new ListenError(`cannot listen on unix:${target.path}: another process listens there; stop it, or set AUTHZ_LISTEN`);
  }
  try {
    unlinkSync(target.path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ListenError(`cannot remove the stale socket unix:${target.path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
}

/** After listening: set the socket file's exact permissions (the umask can only take bits away). */
export function finishSocket(target: ListenTarget): void {
  if (target.kind === 'unix') chmodSync(target.path, target.mode);
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
