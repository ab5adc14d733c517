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

/** JSON lines on stdout (or `destination`, for tests), secrets redacted. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino({ level, base: { service: 'nginx-authz' }, redact: { paths: REDACT, censor: '[redacted]' } }, destination);
}

/** A resource name for a log line: request-named ones can be long, and a log line need not carry 8 KB of it. */
export function logName(resource: string): string {
  return resource.length <= 200 ? resource : `${resource.slice(0, 200)}... (${resource.length} characters)`;
}
