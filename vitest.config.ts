import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // uWS apps live in the test process; forks keep each file's native handles in its own process.
    pool: 'forks',
    testTimeout: 20_000,
    hookTimeout: 60_000,
  },
});
