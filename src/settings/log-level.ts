/**
 * LOG_LEVEL: the least severe level logged (trace, debug, info, warn, error, fatal, silent; default
 * info). Read by the logger (log.ts) when it first writes, and checked by loadSettings at start.
 */
import { processEnvironment, type Environment } from './environment.js';

export const LOG_LEVELS: readonly string[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/** LOG_LEVEL, checked: loadSettings refuses an unknown value at start (logging itself then falls back to info, saying so). */
export function logLevelFrom(env: Environment = processEnvironment()): string {
  const level = (env.LOG_LEVEL ?? 'info').trim().toLowerCase() || 'info';
  if (!LOG_LEVELS.includes(level)) throw new Error(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got "${env.LOG_LEVEL}")`);
  return level;
}
