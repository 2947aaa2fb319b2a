// Outcomes of proposals and read requests: data, not exceptions, so the server can map
// each kind to its wire error (NotLeader{leader}, ServerIsBusy, ...) with an exhaustive switch.
import type { NodeId } from './types.js';

export type ProposalError =
  /** leaderId is NONE when no leader is known. */
  | { readonly kind: 'notLeader'; readonly leaderId: NodeId }
  | { readonly kind: 'leaderTransferring'; readonly transfereeId: NodeId }
  | { readonly kind: 'entryTooLarge'; readonly sizeBytes: number; readonly maxSizeBytes: number }
  | { readonly kind: 'uncommittedSizeLimit'; readonly maxSizeBytes: number }
  | { readonly kind: 'confChangePending'; readonly pendingIndex: number }
  | { readonly kind: 'invalidConfChange'; readonly reason: string }
  | { readonly kind: 'readQueueFull'; readonly maxPending: number };

export type ProposeResult = { readonly ok: true } | { readonly ok: false; readonly error: ProposalError };

export const PROPOSE_OK: ProposeResult = { ok: true };

export function proposalError(error: ProposalError): ProposeResult {
  return { ok: false, error };
}
