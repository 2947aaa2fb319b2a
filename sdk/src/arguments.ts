// Validation of what applications pass in: keys, values, TTLs, batches and write options
// become the wire's Buffers and bigints here, or an InvalidArgumentError that names the
// field. The store validates again; checking here gives clearer errors sooner.
import type { kvpb } from './wire.js';
import { InvalidArgumentError } from './errors.js';
import type { Bytes } from './keys.js';
import { toBuffer } from './keys.js';
import type { WriteOptions } from './options.js';
import type { RequestKind } from './retry-policy.js';

/** One write of batchWrite. */
export type Mutation =
  | { readonly type: 'put'; readonly key: Bytes; readonly value: Bytes; readonly ttlMs?: number }
  | { readonly type: 'delete'; readonly key: Bytes };

export function writeKind(options: WriteOptions): RequestKind {
  if (options.idempotent !== undefined && typeof options.idempotent !== 'boolean')
    throw new InvalidArgumentError('idempotent', 'expected a boolean');
  return { write: true, idempotent: options.idempotent === true };
}

export function checkKey(key: Bytes, field: string): Buffer {
  const k = checkBytes(key, field);
  if (k.length === 0) throw new InvalidArgumentError(field, 'must not be empty');
  return k;
}

export function checkValue(value: Bytes, field: string): Buffer {
  return checkBytes(value, field);
}

/** A lone (unpaired) UTF-16 surrogate: what UTF-8 cannot encode. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Bytes given as bytes, or a string as its UTF-8 encoding. A string that is not well-formed
 * UTF-16 (it holds a lone surrogate such as "\ud800") has no UTF-8 encoding: Buffer.from would
 * write U+FFFD in its place, so "\ud800" and "\ufffd" would name the same key. It is refused.
 */
export function checkBytes(input: Bytes, field: string): Buffer {
  if (typeof input !== 'string' && !(input instanceof Uint8Array))
    throw new InvalidArgumentError(
      field,
      `expected a string, Buffer or Uint8Array, got ${input === null ? 'null' : typeof input}`,
    );
  if (typeof input === 'string') {
    const at = input.search(LONE_SURROGATE);
    if (at >= 0)
      throw new InvalidArgumentError(
        field,
        `the string is not well-formed UTF-16 (lone surrogate U+${input.charCodeAt(at).toString(16).toUpperCase()} at index ${at}), so it has no UTF-8 encoding; pass a Buffer for arbitrary bytes`,
      );
  }
  return toBuffer(input);
}

export function checkKeys(keys: readonly Bytes[]): Buffer[] {
  if (!Array.isArray(keys)) throw new InvalidArgumentError('keys', 'expected an array');
  return keys.map((k, i) => checkKey(k, `keys[${i}]`));
}

/** The longest TTL the store accepts: ten years. */
const TTL_MS_MAX = 10 * 365 * 24 * 3600 * 1000;

export function checkTtl(ttlMs: number | undefined): bigint | undefined {
  if (ttlMs === undefined) return undefined;
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 1 || ttlMs > TTL_MS_MAX)
    throw new InvalidArgumentError(
      'ttlMs',
      `must be an integer in [1, ${TTL_MS_MAX}] (ten years), got ${ttlMs}`,
    );
  return BigInt(ttlMs);
}

export function checkMutations(mutations: readonly Mutation[]): Array<{ key: Buffer; proto: kvpb.Mutation }> {
  if (!Array.isArray(mutations) || mutations.length === 0)
    throw new InvalidArgumentError('mutations', 'expected a non-empty array');
  return mutations.map((m, i) => {
    const key = checkKey(m?.key, `mutations[${i}].key`);
    if (m.type === 'put') {
      const value = checkValue(m.value, `mutations[${i}].value`);
      return { key, proto: { op: { $case: 'put', put: { key, value, ttlMs: checkTtl(m.ttlMs) } } } };
    }
    if (m.type === 'delete') return { key, proto: { op: { $case: 'delete', delete: { key } } } };
    throw new InvalidArgumentError(`mutations[${i}].type`, `expected 'put' or 'delete'`);
  });
}
