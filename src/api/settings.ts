/**
 * Settings of the config API and the config store, from the environment (README, "Config API"):
 *
 * | variable | default | meaning |
 * |---|---|---|
 * | `CONFIG_STORE` | `memory` | `memory`: in process, seeded from CONFIG_DIR at each start; `redis`: shared by every bidder |
 * | `CONFIG_REDIS_URL` | `REDIS_URL` | the Redis of the config store |
 * | `CONFIG_REDIS_PREFIX` | `cfg` | key prefix (hash tag) in that Redis |
 * | `DSP_ADMIN_KEY` | generated (memory) | the first admin key; required in production |
 * | `API_RATE_LIMIT` | `20` | requests per second per API key (a key may have its own) |
 * | `API_RATE_BURST` | `40` | bucket size per API key |
 * | `API_BODY_LIMIT_BYTES` | 4 MiB | largest request body (imports: `API_IMPORT_LIMIT_BYTES`, 64 MiB) |
 * | `API_AUTH_FAILURE_LIMIT` | `20` | failed authentications per source address in a window before it gets 429; `0`: no limit |
 * | `API_AUTH_FAILURE_WINDOW_SECONDS` | `60` | that window |
 * | `API_TRUSTED_PROXIES` | `0` | proxies in front of the admin port whose X-Forwarded-For entries name the source address |
 * | `API_REDIS_URL` | `CONFIG_REDIS_URL`, `REDIS_URL` | the Redis where rate limits, failed authentications and Idempotency-Key answers are shared by every instance; `none`: in each process |
 * | `API_REDIS_PREFIX` | `api` | key prefix in that Redis |
 * | `API_IDEMPOTENCY_TTL_SECONDS` | `86400` | how long an Idempotency-Key answer is kept |
 *
 * Production mode is `CONFIG_STORE=redis` or `NODE_ENV=production`: without DSP_ADMIN_KEY the
 * API refuses to start. In the embedded default a key is generated at start (and printed).
 */
import { ConfigError, type FieldError } from '../errors.js';
import { processEnvironment, type Environment } from '../settings/environment.js';
import { generateAdminKey, type RateLimit } from './auth.js';
import { DEFAULT_AUTH_FAILURES, type AuthFailureSettings } from './auth-failures.js';

export interface ApiSettings {
  readonly store: 'memory' | 'redis';
  readonly redisUrl: string | undefined;
  readonly redisPrefix: string;
  readonly production: boolean;
  readonly adminKey: string;
  /** True when adminKey was generated here (print it: nobody else knows it). */
  readonly adminKeyGenerated: boolean;
  readonly rateLimit: RateLimit;
  readonly bodyLimitBytes: number;
  readonly importLimitBytes: number;
  /** Failed authentication per source address (auth-failures.ts). */
  readonly authFailures: AuthFailureSettings;
  /** The Redis shared by every instance for limits and Idempotency-Key answers; undefined: each process alone. */
  readonly sharedRedisUrl: string | undefined;
  readonly sharedRedisPrefix: string;
  readonly idempotencyTtlMs: number;
}

export function loadApiSettings(env: Environment = processEnvironment()): ApiSettings {
  const errors: FieldError[] = [];
  const store = (env.CONFIG_STORE || 'memory').trim();
  if (store !== 'memory' && store !== 'redis') errors.push({ path: 'CONFIG_STORE', code: 'invalid', message: 'must be memory or redis' });
  const redisUrl = env.CONFIG_REDIS_URL || env.REDIS_URL || undefined;
  if (store === 'redis' && !redisUrl) errors.push({ path: 'CONFIG_REDIS_URL', code: 'required', message: 'CONFIG_STORE=redis needs CONFIG_REDIS_URL or REDIS_URL' });
  if (redisUrl && !/^redis(s|\+cluster)?:\/\//.test(redisUrl))
    errors.push({ path: 'CONFIG_REDIS_URL', code: 'invalid_url', message: 'must start with redis://, rediss:// or redis+cluster://' });
  const redisPrefix = env.CONFIG_REDIS_PREFIX || 'cfg';
  if (!/^[A-Za-z0-9:_-]{1,64}$/.test(redisPrefix)) errors.push({ path: 'CONFIG_REDIS_PREFIX', code: 'invalid', message: 'must be 1-64 of A-Z a-z 0-9 : _ -' });
  const apiRedis = (env.API_REDIS_URL ?? '').trim();
  const sharedRedisUrl = apiRedis === 'none' ? undefined : apiRedis || redisUrl;
  if (apiRedis && apiRedis !== 'none' && !/^redis(s|\+cluster)?:\/\//.test(apiRedis))
    errors.push({ path: 'API_REDIS_URL', code: 'invalid_url', message: 'must start with redis://, rediss:// or redis+cluster://, or be none' });
  const sharedRedisPrefix = env.API_REDIS_PREFIX || 'api';
  if (!/^[A-Za-z0-9:_{}-]{1,64}$/.test(sharedRedisPrefix)) errors.push({ path: 'API_REDIS_PREFIX', code: 'invalid', message: 'must be 1-64 of A-Z a-z 0-9 : _ - { }' });
  const production = store === 'redis' || env.NODE_ENV === 'production';
  let adminKey = env.DSP_ADMIN_KEY?.trim() || undefined;
  const adminKeyGenerated = adminKey === undefined && !production;
  if (adminKey === undefined && production)
    errors.push({ path: 'DSP_ADMIN_KEY', code: 'required', message: 'the config API needs a first admin key in production (CONFIG_STORE=redis or NODE_ENV=production)' });
  else if (adminKey !== undefined && adminKey.length < 16) errors.push({ path: 'DSP_ADMIN_KEY', code: 'too_short', message: 'must be at least 16 characters' });
  adminKey ??= generateAdminKey();
  const num = (name: string, fallback: number, min: number, max: number, integer: boolean) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
      errors.push({ path: name, code: 'out_of_range', message: `must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}` });
      return fallback;
    }
    return n;
  };
  const settings: ApiSettings = {
    store: store === 'redis' ? 'redis' : 'memory',
    redisUrl,
    redisPrefix,
    production,
    adminKey,
    adminKeyGenerated,
    rateLimit: { perSecond: num('API_RATE_LIMIT', 20, 0.001, 100_000, false), burst: num('API_RATE_BURST', 40, 1, 1_000_000, true) },
    bodyLimitBytes: num('API_BODY_LIMIT_BYTES', 4 * 1024 * 1024, 1024, 1024 ** 3, true),
    importLimitBytes: num('API_IMPORT_LIMIT_BYTES', 64 * 1024 * 1024, 1024, 4 * 1024 ** 3, true),
    authFailures: {
      limit: num('API_AUTH_FAILURE_LIMIT', DEFAULT_AUTH_FAILURES.limit, 0, 1_000_000, true),
      windowMs: num('API_AUTH_FAILURE_WINDOW_SECONDS', DEFAULT_AUTH_FAILURES.windowMs / 1000, 1, 86_400, true) * 1000,
      trustedProxies: num('API_TRUSTED_PROXIES', 0, 0, 16, true),
    },
    sharedRedisUrl,
    sharedRedisPrefix,
    idempotencyTtlMs: num('API_IDEMPOTENCY_TTL_SECONDS', 86_400, 60, 30 * 86_400, true) * 1000,
  };
  if (errors.length) throw new ConfigError(errors);
  return Object.freeze(settings);
}
