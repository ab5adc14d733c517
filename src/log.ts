import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * Header and field names that may hold secrets. The code never passes them to the logger;
 * redaction is the second line of defence should a request or error object slip through.
 */
const REDACT = [
  'authorization',
  'cookie',
  'password',
  'token',
  'access_token',
  'refresh_token',
  'id_token',
  'client_secret',
  'secret',
  '*.authorization',
  '*.cookie',
  '*.password',
  '*.token',
  '*.access_token',
  '*.refresh_token',
  '*.id_token',
  '*.client_secret',
  '*.secret',
  'headers.authorization',
  'headers.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
];

/**
 * The names of {@link REDACT} that stand for a field of the line itself (no `.`): all that can match in a line whose
 * values are all strings, numbers and booleans (see {@link flatLineLogger}).
 */
const TOP_LEVEL_REDACT = REDACT.filter((path) => !path.includes('.'));

/** Lines are written in batches of at least this many bytes... */
export const LOG_BATCH_BYTES = 4096;
/** ...or this often, whichever comes first, so a line is on stdout within this bound at any load. */
export const LOG_FLUSH_MS = 100;

/**
 * JSON lines on stdout (or `destination`, for tests), secrets redacted. Under load the audit log writes a line
 * per decision; one write(2) each was a tenth of the service's CPU through NGINX (docs/speed.md), so stdout is
 * written in batches, flushed every LOG_FLUSH_MS and synchronously on exit (pino's exit hook); only a SIGKILL
 * can lose the last LOG_FLUSH_MS of lines.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const out = destination ?? pino.destination({ dest: 1, minLength: LOG_BATCH_BYTES, periodicFlush: LOG_FLUSH_MS });
  return pino({ level, base: { service: 'nginx-authz' }, redact: { paths: REDACT, censor: '[redacted]' } }, out);
}

/** A resource name for a log line: request-named ones can be long, and a log line need not carry 8 KB of it. */
export function logName(resource: string): string {
  return resource.length <= 200 ? resource : `${resource.slice(0, 200)}... (${resource.length} characters)`;
}

/**
 * A child of `log` for lines the code builds itself from primitive values only (strings, numbers, booleans: no
 * nested objects), such as the audit line of every decision. It censors the same top-level names as `log` but
 * leaves out the nested paths (`*.token`, `headers.cookie`, ...): those can only match inside an object, and this
 * line has none. With a `*.` path pino runs the redactor on every field of every line, which was ~10 % of the
 * service's CPU per cached decision (docs/speed.md); the line written is byte for byte the same.
 */
export function flatLineLogger(log: Logger, bindings: Record<string, unknown>): Logger {
  return log.child(bindings, { redact: { paths: TOP_LEVEL_REDACT, censor: '[redacted]' } });
}
