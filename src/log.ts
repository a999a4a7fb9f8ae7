/**
 * Structured logs: one JSON line per event, written by pino through asynchronous destinations
 * (SonicBoom with sync: false, flushed at exit), so a log call never blocks on the terminal, a pipe or
 * a file. info and below go to stdout, warn and above to stderr, as before. Works the same in the bid
 * worker threads (each thread writes its own lines to the same descriptors).
 *
 * LOG_LEVEL (trace, debug, info, warn, error, fatal, silent; default info) sets the least severe level
 * written. Fields that carry secrets are redacted wherever they appear at the top level or one level
 * down (`authorization`, `cookie`, `set-cookie`, `key`, `apiKey`, `password`, `secret`, `token`, and
 * the same under `headers`): a log line never shows an API key, a cookie or a password. The generated
 * admin key of the embedded default is the exception by design: the start line prints it once, as
 * `adminKey`, for the operator who just started the process.
 *
 * The bid path does not log per request (it counts, in metrics); log lines are for events.
 */
import { pino, type DestinationStream, type Level, type Logger, type LoggerOptions } from 'pino';
import { processEnvironment } from './settings/environment.js';
import { logLevelFrom } from './settings/log-level.js';

export type LogLevel = Level;

const SECRET_FIELDS = new Set(['authorization', 'cookie', 'set-cookie', 'key', 'apikey', 'password', 'secret', 'token']);

/** The paths redacted, for reference: each secret field at the top level, one level down, and under `headers` there. */
export const REDACT_PATHS: readonly string[] = [...SECRET_FIELDS].flatMap((f) => [f, `*.${f}`, `headers.${f}`, `*.headers.${f}`]);

const CENSOR = '[redacted]';
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The fields of a line with secrets censored (names compared case-insensitively). Scans the top level and
 * one level down (and `headers` objects there); copies only the objects it changes, so a line without
 * secrets costs a look at its keys. (pino's own path-based redaction took ~10 µs a line for these paths.)
 */
export function redact(fields: Record<string, unknown>, depth = 0): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const k in fields) {
    const v = fields[k];
    let next = v;
    if (SECRET_FIELDS.has(k.toLowerCase())) next = CENSOR;
    else if (isObject(v) && (depth === 0 || k === 'headers')) next = redact(v, depth + 1);
    if (next !== v) (out ??= { ...fields })[k] = next;
  }
  return out ?? fields;
}

/** Options shared by every logger of the process (and by tests that pass their own destination). */
export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    base: undefined, // no pid/hostname on each line: the orchestrator adds where a line came from
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }), log: redact },
  };
}

export function createLogger(level: string, destination: DestinationStream): Logger {
  return pino(loggerOptions(level), destination);
}

let loggers: { out: Logger; err: Logger; destinations: DestinationStream[] } | undefined;

function current(): { out: Logger; err: Logger; destinations: DestinationStream[] } {
  if (loggers) return loggers;
  const env = processEnvironment();
  let level: string;
  let refused: string | undefined;
  try {
    level = logLevelFrom(env);
  } catch (e) {
    level = 'info';
    refused = (e as Error).message;
  }
  const stdout = pino.destination({ dest: 1, sync: false });
  const stderr = pino.destination({ dest: 2, sync: false });
  loggers = { out: createLogger(level, stdout), err: createLogger(level, stderr), destinations: [stdout, stderr] };
  if (refused) loggers.err.warn({ LOG_LEVEL: env.LOG_LEVEL }, `${refused}; logging at info`);
  return loggers;
}

/**
 * One JSON line: `{"level":"info","time":"…","msg":"…",<fields>}`. The message goes in as the first field
 * (not as pino's message argument, which it would write last), so a line reads message first, as before.
 */
export function log(level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void {
  const l = current();
  const logger = level === 'info' || level === 'debug' || level === 'trace' ? l.out : l.err;
  if (!logger.isLevelEnabled(level)) return;
  logger[level]({ msg, ...fields });
}

/** Whether a level is written (to skip building costly fields for a line nobody reads). */
export function logs(level: LogLevel): boolean {
  return current().out.isLevelEnabled(level);
}

/** The destinations in use (for tests: they are asynchronous). */
export function logDestinations(): DestinationStream[] {
  return current().destinations;
}

/** Writes out what is buffered, synchronously: before an exit that pino's own exit hook would not see. */
export function flushLogs(): void {
  for (const d of loggers?.destinations ?? []) (d as DestinationStream & { flushSync?: () => void }).flushSync?.();
}
