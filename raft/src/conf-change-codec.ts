// A compact binary encoding of ConfChange, the payload of 'confChange' log entries.
// Layout: magic 0xCC, version 1, transition (u8), change count (varint), per change
// type (u8) + node id (varint), context length (varint) + context bytes. Decoding checks
// every field and rejects trailing bytes, so garbage never turns into a membership change.
import type { ConfChange, ConfChangeSingle, ConfChangeTransition, ConfChangeType } from './types.js';
import { NONE } from './types.js';
import { ConfChangeDecodeError } from './errors.js';

const MAGIC = 0xcc;
const VERSION = 1;
/** Bound on the single changes in one ConfChange. */
export const CONF_CHANGE_CHANGES_MAX = 1024;
/** Bound on the opaque context of one ConfChange. */
export const CONF_CHANGE_CONTEXT_BYTES_MAX = 64 * 1024;
/** A varint of a safe integer takes at most 8 bytes of 7 bits. */
const VARINT_BYTES_MAX = 8;

const TRANSITIONS: readonly ConfChangeTransition[] = ['auto', 'jointImplicit', 'jointExplicit'];
const TYPES: readonly ConfChangeType[] = ['addVoter', 'addLearner', 'removeNode'];

function pushVarint(out: number[], value: number): void {
  let rest = value;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
}

export function encodeConfChange(cc: ConfChange): Uint8Array {
  if (cc.changes.length > CONF_CHANGE_CHANGES_MAX)
    throw new RangeError(`too many changes: ${cc.changes.length}`);
  if (cc.context.byteLength > CONF_CHANGE_CONTEXT_BYTES_MAX) {
    throw new RangeError(`context too large: ${cc.context.byteLength} bytes`);
  }
  const out: number[] = [MAGIC, VERSION, TRANSITIONS.indexOf(cc.transition)];
  if ((out[2] as number) < 0) throw new RangeError(`unknown transition: ${String(cc.transition)}`);
  pushVarint(out, cc.changes.length);
  for (const change of cc.changes) {
    const type = TYPES.indexOf(change.type);
    if (type < 0) throw new RangeError(`unknown change type: ${String(change.type)}`);
    if (!Number.isSafeInteger(change.nodeId) || change.nodeId <= NONE) {
      throw new RangeError(`invalid node id: ${change.nodeId}`);
    }
    out.push(type);
    pushVarint(out, change.nodeId);
  }
  pushVarint(out, cc.context.byteLength);
  const bytes = new Uint8Array(out.length + cc.context.byteLength);
  bytes.set(out, 0);
  bytes.set(cc.context, out.length);
  return bytes;
}

class Reader {
  private pos = 0;
  constructor(private readonly bytes: Uint8Array) {}

  u8(what: string): number {
    const value = this.bytes[this.pos];
    if (value === undefined) throw new ConfChangeDecodeError(`truncated at ${what}`);
    this.pos++;
    return value;
  }

  varint(what: string): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < VARINT_BYTES_MAX; i++) {
      const byte = this.u8(what);
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        if (!Number.isSafeInteger(value)) throw new ConfChangeDecodeError(`${what} is not a safe integer`);
        return value;
      }
      scale *= 0x80;
    }
    throw new ConfChangeDecodeError(`${what} varint longer than ${VARINT_BYTES_MAX} bytes`);
  }

  take(length: number, what: string): Uint8Array {
    if (this.pos + length > this.bytes.byteLength) throw new ConfChangeDecodeError(`truncated at ${what}`);
    const out = this.bytes.slice(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }

  end(): void {
    if (this.pos !== this.bytes.byteLength) {
      throw new ConfChangeDecodeError(`${this.bytes.byteLength - this.pos} trailing bytes`);
    }
  }
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  const r = new Reader(data);
  if (r.u8('magic') !== MAGIC) throw new ConfChangeDecodeError('bad magic byte');
  const version = r.u8('version');
  if (version !== VERSION) throw new ConfChangeDecodeError(`unsupported version ${version}`);
  const transition = TRANSITIONS[r.u8('transition')];
  if (transition === undefined) throw new ConfChangeDecodeError('unknown transition');
  const count = r.varint('change count');
  if (count > CONF_CHANGE_CHANGES_MAX) throw new ConfChangeDecodeError(`too many changes: ${count}`);
  const changes: ConfChangeSingle[] = [];
  for (let i = 0; i < count; i++) {
    const type = TYPES[r.u8('change type')];
    if (type === undefined) throw new ConfChangeDecodeError(`unknown type of change ${i}`);
    const nodeId = r.varint('node id');
    if (nodeId === NONE) throw new ConfChangeDecodeError(`change ${i} names node NONE`);
    changes.push({ type, nodeId });
  }
  const contextLength = r.varint('context length');
  if (contextLength > CONF_CHANGE_CONTEXT_BYTES_MAX) {
    throw new ConfChangeDecodeError(`context too large: ${contextLength} bytes`);
  }
  const context = r.take(contextLength, 'context');
  r.end();
  return { transition, changes, context };
}
