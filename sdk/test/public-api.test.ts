// The public surface of @flotilla/sdk: what index.ts exports (and nothing else), and the
// stable code and retryable flag of every error class, which applications switch on.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as sdk from '../src/index.js';

describe('public API', () => {
  it('exports the client factory, the client class and the error classes only', () => {
    assert.deepEqual(Object.keys(sdk).sort(), [
      'AbortedError',
      'ClientClosedError',
      'DiskFullError',
      'EntryTooLargeError',
      'FlotillaClient',
      'FlotillaError',
      'InternalError',
      'InvalidArgumentError',
      'KeyTooLargeError',
      'QueueFullError',
      'ResultUnknownError',
      'ServerBusyError',
      'TimeoutError',
      'TooManyKeysError',
      'UnavailableError',
      'ValueTooLargeError',
      'createClient',
    ]);
  });

  it('gives every error a stable code and retryable flag', () => {
    const cases: Array<[sdk.FlotillaError, sdk.FlotillaErrorCode, boolean]> = [
      [new sdk.InvalidArgumentError('key', 'empty'), 'INVALID_ARGUMENT', false],
      [new sdk.TimeoutError('t'), 'TIMEOUT', true],
      [new sdk.AbortedError('a'), 'ABORTED', true],
      [new sdk.UnavailableError('u'), 'UNAVAILABLE', true],
      [new sdk.ResultUnknownError('r'), 'RESULT_UNKNOWN', false],
      [new sdk.ServerBusyError('b'), 'SERVER_BUSY', true],
      [new sdk.QueueFullError('q'), 'QUEUE_FULL', true],
      [new sdk.KeyTooLargeError('k'), 'KEY_TOO_LARGE', false],
      [new sdk.ValueTooLargeError('v'), 'VALUE_TOO_LARGE', false],
      [new sdk.TooManyKeysError('m'), 'TOO_MANY_KEYS', false],
      [new sdk.EntryTooLargeError('e'), 'ENTRY_TOO_LARGE', false],
      [new sdk.DiskFullError([3], 'd'), 'DISK_FULL', false],
      [new sdk.ClientClosedError('c'), 'CLIENT_CLOSED', false],
      [new sdk.InternalError('i'), 'INTERNAL', false],
    ];
    for (const [error, code, retryable] of cases) {
      assert.ok(error instanceof sdk.FlotillaError && error instanceof Error);
      assert.equal(error.code, code);
      assert.equal(error.retryable, retryable, code);
      assert.equal(error.name, error.constructor.name);
    }
    assert.match(new sdk.InvalidArgumentError('ttlMs', 'must be positive').message, /ttlMs/);
  });

  it('rejects bad client options before connecting', async () => {
    await assert.rejects(sdk.createClient({ pdEndpoints: [] }), sdk.InvalidArgumentError);
    await assert.rejects(sdk.createClient({ pdEndpoints: ['no-port'] }), sdk.InvalidArgumentError);
    await assert.rejects(
      sdk.createClient({ pdEndpoints: ['127.0.0.1:1'], timeoutMs: 0 }),
      (e: unknown) => e instanceof sdk.InvalidArgumentError && e.field === 'timeoutMs',
    );
    await assert.rejects(
      sdk.createClient({ pdEndpoints: ['127.0.0.1:1'], bogus: 1 } as never),
      (e: unknown) => e instanceof sdk.InvalidArgumentError && e.field === 'bogus',
    );
  });

  it('fails createClient with UnavailableError or TimeoutError when no PD answers', async () => {
    await assert.rejects(
      sdk.createClient({ pdEndpoints: ['127.0.0.1:1'], timeoutMs: 500, connectTimeoutMs: 100 }),
      (e: unknown) => e instanceof sdk.UnavailableError || e instanceof sdk.TimeoutError,
    );
  });
});
