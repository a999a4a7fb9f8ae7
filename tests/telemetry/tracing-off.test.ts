/**
 * Zero cost when off: the built bid app (dist/, `npx tsc -p tsconfig.build.json` first) loads no
 * OpenTelemetry module until startTracing is called. A module resolve hook in a child process
 * counts them; `on` is the control that shows the hook sees the SDK when it is loaded.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const count = (mode: 'off' | 'on') => Number(execFileSync(process.execPath, ['tests/telemetry/sdk-loads.mjs', mode], { encoding: 'utf8', timeout: 60_000 }).trim());

describe('tracing off', () => {
  it('loads no OpenTelemetry module until tracing is started', () => {
    expect(existsSync('dist/src/app.js'), 'build first: npx tsc -p tsconfig.build.json').toBe(true);
    expect(count('off')).toBe(0);
    expect(count('on')).toBeGreaterThanOrEqual(3); // api, sdk-trace-base, resources, the exporter
  }, 120_000);
});
