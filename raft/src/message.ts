// Building messages: the flat Message record with every unused field zero/empty.
import type { Message, MessageType, NodeId } from './types.js';
import { NONE } from './types.js';

export const EMPTY_BYTES = new Uint8Array(0);

/** Vote/timeoutNow context marking a campaign started by a leader transfer (bypasses the lease). */
export const CAMPAIGN_TRANSFER_CONTEXT = new Uint8Array([0x74, 0x72, 0x61, 0x6e, 0x73, 0x66, 0x65, 0x72]); // "transfer"

/** readIndex `index` field: the requester asks for a lease read. */
export const READ_MODE_LEASE = 1;

export function isTransferCampaign(context: Uint8Array): boolean {
  if (context.byteLength !== CAMPAIGN_TRANSFER_CONTEXT.byteLength) return false;
  return context.every((byte, i) => byte === CAMPAIGN_TRANSFER_CONTEXT[i]);
}

export type MessageFields = Partial<Message> & { readonly type: MessageType; readonly to: NodeId };

export function newMessage(fields: MessageFields): Message {
  return {
    from: NONE,
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    snapshot: null,
    context: EMPTY_BYTES,
    ...fields,
  };
}

/** Types only the node itself may generate; step() refuses them from the network. */
export function isLocalOnly(type: MessageType): boolean {
  return (
    type === 'hup' ||
    type === 'beat' ||
    type === 'unreachable' ||
    type === 'snapStatus' ||
    type === 'checkQuorum'
  );
}

/** Types a leader sends: accepted even from a node not (yet) in our config, see RawNode.step. */
export function isFromLeader(type: MessageType): boolean {
  return type === 'app' || type === 'heartbeat' || type === 'snap' || type === 'timeoutNow';
}
