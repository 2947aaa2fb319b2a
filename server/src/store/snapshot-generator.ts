// Region snapshots made on demand, when the Raft core needs one for a follower whose next
// entries were compacted (PeerStorage.snapshot() -> requestSnapshot). The engine IS the
// state machine, so a snapshot is a consistent engine view (engine.snapshot(); writes go
// on meanwhile) read at the applied index it holds: its apply state gives the index (and
// the term, from the log entry or the truncated state), its region state the range and
// membership. One pass over the region's data computes size, key count and CRC-32C for the
// descriptor; every send streams the same view again, page by page (bounded memory).
//
// Bounds: one generation per region at a time, GENERATIONS_MAX per store; one kept view per
// region. A view is released when the log moves past it (compaction, a newer request) and
// no send still reads it.
import type { Snapshot } from '@flotilla/raft';
import type { Engine, EngineSnapshot } from '../storage/engine.js';
import { applyStateKey, dataRange, raftLogKey, regionStateKey } from '../storage/keys.js';
import { decodeApplyState, decodeEntry } from '../storage/raft-state-codec.js';
import { crc32c } from '../transport/index.js';
import type { SnapshotDescriptor } from './snapshot-codec.js';
import { encodeDescriptor, encodeRecords } from './snapshot-codec.js';
import type { RegionMeta } from './region-meta.js';
import { confStateOf, decodeRegionLocalState } from './region-meta.js';

/** Snapshots generated at the same time on one store (each is a full pass over a region). */
export const SNAPSHOT_GENERATIONS_MAX = 2;
/** Keys per engine page while streaming a snapshot (one page = one chunk of records). */
export const SNAPSHOT_PAGE_KEYS = 256;

interface Kept {
  readonly snapshot: Snapshot;
  readonly descriptor: SnapshotDescriptor;
  readonly view: EngineSnapshot;
  readsCount: number;
  expired: boolean;
}

export interface SnapshotGeneratorDeps {
  readonly engine: Engine;
  /** A snapshot is ready for the region (hand it to its PeerStorage inside a round). */
  readonly onGenerated: (regionId: number, snapshot: Snapshot) => void;
  /** A generation failed (engine error); the core asks again later. */
  readonly onFailed: (regionId: number, error: Error) => void;
}

/** The bulk of a generated snapshot, for one send. Call release() once the send settled. */
export interface SnapshotData {
  readonly source: AsyncIterable<Uint8Array>;
  readonly sizeBytes: number;
  release(): void;
}

export class SnapshotGenerator {
  private readonly generating = new Map<number, Promise<void>>();
  private readonly kept = new Map<number, Kept>();
  private closed = false;

  constructor(private readonly deps: SnapshotGeneratorDeps) {}

  /** The core needs a snapshot no older than `truncatedIndex`; generates one unless a fit one exists. */
  request(regionId: number, truncatedIndex: number): void {
    if (this.closed || this.generating.has(regionId)) return;
    const kept = this.kept.get(regionId);
    if (kept !== undefined && kept.snapshot.metadata.index >= truncatedIndex) {
      this.deps.onGenerated(regionId, kept.snapshot);
      return;
    }
    // Too many at once: the core asks again at its next probe of the follower.
    if (this.generating.size >= SNAPSHOT_GENERATIONS_MAX) return;
    const run = this.generate(regionId).then(
      () => undefined,
      (err: unknown) => this.deps.onFailed(regionId, err instanceof Error ? err : new Error(String(err))),
    );
    this.generating.set(regionId, run);
    void run.finally(() => this.generating.delete(regionId));
  }

  /** The region's log was compacted to `truncatedIndex`: a snapshot below it is of no use any more. */
  expire(regionId: number, truncatedIndex: number): void {
    const kept = this.kept.get(regionId);
    if (kept !== undefined && kept.snapshot.metadata.index < truncatedIndex) this.drop(regionId, kept);
  }

  /** The data of the kept snapshot at (index, term), or undefined if it is gone. */
  open(regionId: number, index: number, term: number): SnapshotData | undefined {
    const kept = this.kept.get(regionId);
    const meta = kept?.snapshot.metadata;
    if (kept === undefined || kept.expired || meta?.index !== index || meta.term !== term) return undefined;
    kept.readsCount++;
    let released = false;
    return {
      source: recordPages(kept.view, kept.descriptor.region),
      sizeBytes: kept.descriptor.dataSizeBytes,
      release: () => {
        if (released) return;
        released = true;
        kept.readsCount--;
        if (kept.expired && kept.readsCount === 0) void kept.view.release();
      },
    };
  }

  get generatingCount(): number {
    return this.generating.size;
  }

  /** Waits for generations in progress and releases every view (sends still reading them fail). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.generating.values());
    for (const kept of this.kept.values()) await kept.view.release().catch(() => undefined);
    this.kept.clear();
  }

  private async generate(regionId: number): Promise<void> {
    const view = this.deps.engine.snapshot();
    let generated: Omit<Kept, 'readsCount' | 'expired'>;
    try {
      generated = await describeView(view, regionId);
    } catch (err) {
      await view.release();
      throw err;
    }
    if (this.closed) return void (await view.release());
    const previous = this.kept.get(regionId);
    if (previous !== undefined) this.drop(regionId, previous);
    this.kept.set(regionId, { ...generated, readsCount: 0, expired: false });
    this.deps.onGenerated(regionId, generated.snapshot);
  }

  private drop(regionId: number, kept: Kept): void {
    kept.expired = true;
    this.kept.delete(regionId);
    if (kept.readsCount === 0) void kept.view.release();
  }
}

/** Reads the apply state and region meta from the view and checksums the region's data. */
async function describeView(
  view: EngineSnapshot,
  regionId: number,
): Promise<{ snapshot: Snapshot; descriptor: SnapshotDescriptor; view: EngineSnapshot }> {
  const applyBytes = view.getSync(applyStateKey(regionId));
  const stateBytes = view.getSync(regionStateKey(regionId));
  if (applyBytes === undefined || stateBytes === undefined)
    throw new Error(`region ${regionId}: nothing applied yet, no snapshot to make`);
  const apply = decodeApplyState(applyBytes);
  const { region, mergeState } = decodeRegionLocalState(stateBytes);
  // A snapshot carries no merge state: a peer built from one could serve a frozen region.
  // Merges start only once every peer holds the whole log, so none should need one.
  if (mergeState !== null)
    throw new Error(
      `region ${regionId}: merging into region ${mergeState.target.id}, no snapshot until it ends`,
    );
  const index = apply.appliedIndex;
  if (index < 1) throw new Error(`region ${regionId}: nothing applied yet, no snapshot to make`);
  const term = index === apply.truncatedIndex ? apply.truncatedTerm : termInView(view, regionId, index);
  let dataSizeBytes = 0;
  let dataCrc32c = 0;
  let keyCount = 0;
  for await (const page of recordPages(view, region, (count) => (keyCount += count))) {
    dataSizeBytes += page.length;
    dataCrc32c = crc32c(page, dataCrc32c);
  }
  const descriptor: SnapshotDescriptor = {
    regionId,
    index,
    term,
    dataSizeBytes,
    keyCount,
    dataCrc32c,
    region,
  };
  const snapshot: Snapshot = {
    metadata: { index, term, confState: confStateOf(region) },
    data: encodeDescriptor(descriptor),
  };
  return { snapshot, descriptor, view };
}

function termInView(view: EngineSnapshot, regionId: number, index: number): number {
  const bytes = view.getSync(raftLogKey(regionId, index));
  if (bytes === undefined) throw new Error(`region ${regionId}: applied entry ${index} missing from the log`);
  const entry = decodeEntry(bytes);
  if (entry.index !== index)
    throw new Error(`region ${regionId}: log key ${index} holds entry ${entry.index}`);
  return entry.term;
}

/** The region's data in the view as record pages, SNAPSHOT_PAGE_KEYS keys each. */
async function* recordPages(
  view: EngineSnapshot,
  region: RegionMeta,
  onKeys?: (count: number) => void,
): AsyncGenerator<Uint8Array> {
  const range = dataRange(region.startKey, region.endKey);
  let start = range.start;
  for (;;) {
    const page = await view.scan({ start, end: range.end }, { limit: SNAPSHOT_PAGE_KEYS });
    if (page.length > 0) {
      onKeys?.(page.length);
      yield encodeRecords(page.map(({ key, value }) => ({ key: key.subarray(1), value })));
    }
    const last = page.at(-1);
    if (page.length < SNAPSHOT_PAGE_KEYS || last === undefined) return;
    start = Buffer.concat([last.key, Buffer.from([0])]);
  }
}
