// How messages and fault kinds enter the event trace: numeric fields for the hash, text for
// --verbose.
import type { Message } from '../../../raft/src/index.js';

const messageTypeCodes = new Map<string, number>();

export function typeCode(type: string): number {
  let code = messageTypeCodes.get(type);
  if (code === undefined) {
    code = hashString(type);
    messageTypeCodes.set(type, code);
  }
  return code;
}

export function kindIndex(kind: string): number {
  return hashString(kind);
}

export function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

export function deliverFields(message: Message): number[] {
  return [
    message.from,
    message.to,
    typeCode(message.type),
    message.term,
    message.index,
    message.logTerm,
    message.commit,
    message.entries.length,
    message.reject ? 1 : 0,
  ];
}

export function describeMessage(message: Message): string {
  const entries = message.entries.length > 0 ? ` entries ${message.entries.length}` : '';
  const snapshot = message.snapshot !== null ? ` snapshot@${message.snapshot.metadata.index}` : '';
  return (
    `${message.from}->${message.to} ${message.type} term ${message.term} index ${message.index} logTerm ${message.logTerm} ` +
    `commit ${message.commit}${entries}${snapshot}${message.reject ? ' reject' : ''}`
  );
}
