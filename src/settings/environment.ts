/**
 * The process environment: the one place in src/ that reads `process.env`
 * (tests/architecture/process-env.test.ts keeps it so). Code elsewhere takes an `Environment` as a
 * parameter; the composition root passes this one, tests pass their own.
 *
 * Besides the settings (settings.ts, api/settings.ts, log-level.ts), the environment is where an
 * exchange's `priceEncryption` keys written as `${NAME}` are looked up (events/encrypted-price.ts).
 */
export type Environment = Readonly<Record<string, string | undefined>>;

/** This process's environment variables (live: a variable set later is seen). */
export function processEnvironment(): Environment {
  return process.env;
}
