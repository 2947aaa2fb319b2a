// Compact binary encodings of what a region persists for Raft: log entries, hard state and
// apply state. Fixed layouts with a version byte, checked on decode, so a corrupt or foreign
// value is reported as such instead of being misread.
import type { Entry, EntryType, HardState, NodeId } from '@flotilla/raft';
import { readU64, writeU64 } from './bytes.js';
import { crc32c } from '../checksum/crc32c.js';

const FORMAT_VERSION = 1;

export class StateDecodeError extends Error {
  readonly code = 'STATE_DECODE';
  constructor(what: string, detail: string) {
    super(`cannot decode ${what}: ${detail}`);
    this.name = 'StateDecodeError';
  }
}

/** What a region has applied and compacted (persisted with the applied data, atomically). */
export interface ApplyState {
  readonly appliedIndex: number;
  /** The last compacted log index and its term (the snapshot point). */
  readonly truncatedIndex: number;
  readonly truncatedTerm: number;
}

const ENTRY_TYPES: readonly EntryType[] = ['normal', 'confChange'];
/** version u8, term u64, index u64, type u8, crc32c u32 of everything before it and of data. */
const ENTRY_HEADER_BYTES = 1 + 8 + 8 + 1 + 4;
const ENTRY_CRC_OFFSET = 18;

/**
 * Entry: version u8, term u64, index u64, type u8, crc32c u32, data. The checksum covers the
 * header fields and the data, so a damaged or truncated record is detected when read,
 * never applied.
 */
export function encodeEntry(entry: Entry): Uint8Array {
  const out = new Uint8Array(ENTRY_HEADER_BYTES + entry.data.length);
  const view = new DataView(out.buffer);
  out[0] = FORMAT_VERSION;
  writeU64(view, 1, entry.term);
  writeU64(view, 9, entry.index);
  out[17] = ENTRY_TYPES.indexOf(entry.type);
  out.set(entry.data, ENTRY_HEADER_BYTES);
  view.setUint32(ENTRY_CRC_OFFSET, entryChecksum(out));
  return out;
}

function entryChecksum(record: Uint8Array): number {
  return crc32c(record.subarray(ENTRY_HEADER_BYTES), crc32c(record.subarray(0, ENTRY_CRC_OFFSET)));
}

export function decodeEntry(bytes: Uint8Array): Entry {
  if (bytes.length < ENTRY_HEADER_BYTES)
    throw new StateDecodeError('entry', `${bytes.length} bytes is too short`);
  checkVersion('entry', bytes);
  const view = viewOf(bytes);
  const stored = view.getUint32(ENTRY_CRC_OFFSET);
  const actual = entryChecksum(bytes);
  if (stored !== actual) {
    throw new StateDecodeError(
      'entry',
      `checksum mismatch (stored ${hex(stored)}, computed ${hex(actual)}): the record is damaged or truncated`,
    );
  }
  const type = ENTRY_TYPES[bytes[17] as number];
  if (type === undefined) throw new StateDecodeError('entry', `unknown entry type ${bytes[17]}`);
  return {
    term: readU64(view, 1),
    index: readU64(view, 9),
    type,
    data: bytes.slice(ENTRY_HEADER_BYTES),
  };
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

/** HardState: version u8, term u64, vote u64, commit u64. */
export function encodeHardState(hs: HardState): Uint8Array {
  const out = new Uint8Array(25);
  const view = new DataView(out.buffer);
  out[0] = FORMAT_VERSION;
  writeU64(view, 1, hs.term);
  writeU64(view, 9, hs.vote);
  writeU64(view, 17, hs.commit);
  return out;
}

export function decodeHardState(bytes: Uint8Array): HardState {
  if (bytes.length !== 25) throw new StateDecodeError('hard state', `expected 25 bytes, got ${bytes.length}`);
  checkVersion('hard state', bytes);
  const view = viewOf(bytes);
  return { term: readU64(view, 1), vote: readU64(view, 9) as NodeId, commit: readU64(view, 17) };
}

/** ApplyState: version u8, applied u64, truncated index u64, truncated term u64. */
export function encodeApplyState(state: ApplyState): Uint8Array {
  const out = new Uint8Array(25);
  const view = new DataView(out.buffer);
  out[0] = FORMAT_VERSION;
  writeU64(view, 1, state.appliedIndex);
  writeU64(view, 9, state.truncatedIndex);
  writeU64(view, 17, state.truncatedTerm);
  return out;
}

export function decodeApplyState(bytes: Uint8Array): ApplyState {
  if (bytes.length !== 25)
    throw new StateDecodeError('apply state', `expected 25 bytes, got ${bytes.length}`);
  checkVersion('apply state', bytes);
  const view = viewOf(bytes);
  const state = {
    appliedIndex: readU64(view, 1),
    truncatedIndex: readU64(view, 9),
    truncatedTerm: readU64(view, 17),
  };
  if (state.appliedIndex < state.truncatedIndex) {
    throw new StateDecodeError(
      'apply state',
      `applied ${state.appliedIndex} < truncated ${state.truncatedIndex}`,
    );
  }
  return state;
}

function checkVersion(what: string, bytes: Uint8Array): void {
  if (bytes[0] !== FORMAT_VERSION) throw new StateDecodeError(what, `unknown format version ${bytes[0]}`);
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
