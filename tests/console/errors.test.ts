/**
 * The console's reading of the API's error bodies (console/src/api.ts): every refused request,
 * whatever made it (fetch, upload, CSV download), becomes one ApiError with the field errors and
 * their paths, and each field error is found under its own path and every path above it, so a
 * field that edits `/targeting/exchanges/block` shows the error of `/targeting/exchanges/block/0`.
 */
import { describe, expect, it } from 'vitest';
import { ApiError, errorFrom, errorsByPath, isConflict } from '../../console/src/api.js';

describe('errorFrom', () => {
  it('reads the code, the detail and the field errors of the API problem document (RFC 9457)', () => {
    const e = errorFrom(400, {
      type: 'urn:rtb-bidder:problem:validation_failed',
      title: 'Bad Request',
      status: 400,
      detail: 'the body is not valid',
      instance: '/api/v1/campaigns',
      code: 'validation_failed',
      errors: [
        { pointer: '/bid/base', path: '/bid/base', code: 'type', message: 'must be number' },
        { pointer: '/targeting/exchanges/block/0', path: '/targeting/exchanges/block/0', code: 'unknown_reference', message: 'no exchange "nowhere"' },
      ],
    });
    expect(e).toBeInstanceOf(ApiError);
    expect(e).toMatchObject({ status: 400, code: 'validation_failed', message: 'the body is not valid' });
    expect(e.errors.map((x) => x.path)).toEqual(['/bid/base', '/targeting/exchanges/block/0']);
  });

  it('still reads the older `{ error: { code, message, errors } }` shape', () => {
    const e = errorFrom(400, { error: { code: 'validation_failed', message: 'the body is not valid', errors: [{ path: '/bid/base', code: 'type', message: 'must be number' }] } });
    expect(e).toMatchObject({ status: 400, code: 'validation_failed', message: 'the body is not valid' });
    expect(e.errors).toEqual([{ path: '/bid/base', code: 'type', message: 'must be number' }]);
  });

  it('keeps what it can of a body that is not the error shape, and says what the status means', () => {
    expect(errorFrom(502, undefined, 'Bad Gateway')).toMatchObject({ status: 502, code: 'http_502', message: 'Bad Gateway', errors: [] });
    expect(errorFrom(500, '<html>oops</html>')).toMatchObject({ code: 'http_500', message: 'The request failed (500).' });
    // Malformed field errors are dropped, not shown as "undefined".
    const e = errorFrom(400, { error: { code: 'validation_failed', message: 'bad', errors: [{ path: '/a', message: 'x' }, { nope: 1 }, null] } });
    expect(e.errors).toEqual([{ path: '/a', code: 'invalid', message: 'x' }]);
  });

  it('tells a conflict (412: the resource moved since it was read) from other refusals', () => {
    const e = errorFrom(412, { type: 'urn:rtb-bidder:problem:precondition_failed', title: 'Precondition Failed', status: 412, detail: 'the resource is at "4"', code: 'precondition_failed' });
    expect(isConflict(e)).toBe(true);
    expect(isConflict(errorFrom(409, {}))).toBe(false);
    expect(errorFrom(412, {}).message).toBe('Someone changed this meanwhile.');
  });
});

describe('errorsByPath', () => {
  it('files each error under its path and every path above it', () => {
    const map = errorsByPath([
      { path: '/targeting/exchanges/block/0', code: 'unknown_reference', message: 'no exchange "nowhere"' },
      { path: '/targeting/countries', code: 'pattern', message: 'bad code' },
    ]);
    expect(map.get('/targeting/exchanges/block')?.map((e) => e.message)).toEqual(['no exchange "nowhere"']);
    expect(map.get('/targeting/exchanges/block/0')).toHaveLength(1);
    expect(map.get('/targeting')).toHaveLength(2);
    expect(map.get('/bid')).toBeUndefined();
  });
});
