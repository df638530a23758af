import { type DestinationStream, type Logger, pino } from 'pino';
import type { LogLevel } from './config.js';

export type { Logger };

/** Options for {@link createLogger}. */
export interface LoggerOptions {
  /**
   * Lowest level written; `silent` writes nothing.
   * @default 'info'
   */
  level?: LogLevel;
  /**
   * Where the JSON lines go.
   * @default stdout, written synchronously so the last lines before an exit are not lost
   */
  destination?: DestinationStream;
}

/**
 * Field names whose values never reach a log line, at the top level or one object down. A secret that
 * slips into a logged object is masked here rather than trusted to every call site.
 */
const SECRET_FIELDS = ['password', 'secret', 'signingSecret', 'authorization', 'apiKey', 'token', 'redisUrl'];
const REDACT_PATHS = SECRET_FIELDS.flatMap((field) => [field, `*.${field}`]);

/** The process logger: one JSON object per line (pino), secrets redacted. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const settings = {
    level: options.level ?? 'info',
    base: { service: 'switchyard', pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  };
  return options.destination ? pino(settings, options.destination) : pino(settings);
}

/**
 * A URL fit for a log line: user and password replaced. Text that is not a URL is withheld whole,
 * because then we cannot tell where a password would be.
 */
export function redactUrl(raw: string): string {
  if (!URL.canParse(raw)) return '[unparseable URL]';
  const url = new URL(raw);
  if (url.username) url.username = '***';
  if (url.password) url.password = '***';
  return url.toString();
}
