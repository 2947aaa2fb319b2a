// How full the disk under a store's data directory is, and the space the store keeps in
// reserve so that a filling disk is met with clear refusals instead of a crash:
//   - normal:      more than the reserve is available;
//   - almostFull:  less than the reserve: proposals that add data are refused (DiskFull),
//                  deletes, admin commands, replication and reads go on;
//   - alreadyFull: (nearly) nothing left, or a write hit ENOSPC since the last look: the
//                  store also stops persisting its leaders' appends (it stops acking).
// The levels come from statfs of the data directory, sampled every checkIntervalMs and at
// once after an ENOSPC. A placeholder file (like TiKV's reserve-space) holds extra room
// that an operator can delete in an emergency; the store deletes it itself when it starts
// on a full disk (LevelDB needs room to open) or when a write hits ENOSPC, and writes it
// again once the disk has room for it.
// The engine writes on its own too: LevelDB flushes a full memtable into a table file before
// it drops the log that held it, and a compaction writes its output before it deletes its
// inputs. Neither can be refused, so the reserve is never less than what they need
// (engineHeadroomBytes, from the memtable size), and the already-full line never less than
// half of that: on a small disk the store says it is full early rather than hit ENOSPC.
// A compaction can still take the last byte (its need grows with the data). Then LevelDB
// refuses every write and reopening it needs room for its log and manifest: without a
// configured placeholder, the store keeps one of that size (engineReopenBytes), written once
// the disk is within a few reserves of full (no cost on a roomy disk), so that both the
// reopen after an ENOSPC and a restart on a full disk find room.
import { statfs, open, unlink, stat } from 'node:fs/promises';
import { join } from 'node:path';

export type DiskUsage = 'normal' | 'almostFull' | 'alreadyFull';

export interface DiskConfig {
  /** Space kept free, in bytes; 0 picks min(reservedRatio × capacity, reservedBytesMaxDefault). */
  readonly reservedBytes: number;
  /** Below this many available bytes the disk is already full (0: a tenth of the reserve). */
  readonly alreadyFullBytes: number;
  /** Size of the placeholder file written in the data directory; 0: engineReopenBytes. */
  readonly placeholderBytes: number;
  /** How often statfs is sampled. */
  readonly checkIntervalMs: number;
  /** Room the storage engine needs for its own writes (engineHeadroomBytesFor); 0: none. */
  readonly engineHeadroomBytes: number;
  /** Room the engine needs to open on a full disk (engineReopenBytesFor); 0: none. */
  readonly engineReopenBytes: number;
}

export const DISK_CONFIG_DEFAULTS: DiskConfig = {
  reservedBytes: 0,
  alreadyFullBytes: 0,
  placeholderBytes: 0,
  checkIntervalMs: 500,
  engineHeadroomBytes: 0,
  engineReopenBytes: 0,
};

/** The automatic placeholder is written once the disk has less than this many reserves available. */
export const AUTO_PLACEHOLDER_BELOW_RESERVES = 4;

/** Default reserve: this share of the capacity ... */
export const RESERVED_RATIO_DEFAULT = 0.05;
/** ... but never more than 1 GiB. */
export const RESERVED_BYTES_MAX_DEFAULT = 1024 * 1024 * 1024;

export const PLACEHOLDER_FILE_NAME = 'space-placeholder';

/** One statfs reading of the data directory's file system. */
export interface DiskSample {
  readonly capacityBytes: number;
  readonly availableBytes: number;
}

/** Level-0 table files that start a compaction into level 1 (LevelDB's default). */
const ENGINE_L0_COMPACTION_FILES = 4;
/** LevelDB's level-1 size bound (10 MiB, fixed): a level-0 compaction may rewrite all of it. */
const ENGINE_L1_BYTES_MAX = 10 * 1024 * 1024;
/** A new manifest and the other small files LevelDB writes when it opens. */
const ENGINE_OPEN_METADATA_BYTES = 1024 * 1024;

/**
 * What LevelDB may write before it frees anything, for a memtable of `writeBufferBytes`:
 * the flush of one memtable, plus a level-0 compaction's output (its four input files and
 * the level-1 tables they overlap, all of level 1 when the keys interleave, as Raft log and
 * data keys do; incompressible values come out as large as they went in).
 */
export function engineHeadroomBytesFor(writeBufferBytes: number): number {
  return (1 + ENGINE_L0_COMPACTION_FILES) * writeBufferBytes + ENGINE_L1_BYTES_MAX;
}

/** What opening LevelDB writes: its log turned into a table (at most a memtable) and a new manifest. */
export function engineReopenBytesFor(writeBufferBytes: number): number {
  return writeBufferBytes + ENGINE_OPEN_METADATA_BYTES;
}

/**
 * The reserve for a disk of `capacityBytes`: the configured one, or 5% capped at 1 GiB;
 * never below the engine's headroom.
 */
export function reservedBytesFor(capacityBytes: number, config: DiskConfig): number {
  const chosen =
    config.reservedBytes > 0
      ? config.reservedBytes
      : Math.min(Math.floor(capacityBytes * RESERVED_RATIO_DEFAULT), RESERVED_BYTES_MAX_DEFAULT);
  return Math.max(chosen, config.engineHeadroomBytes);
}

/** The already-full line: configured, or a tenth of the reserve; never below half the engine's headroom. */
export function alreadyFullBytesFor(reservedBytes: number, config: DiskConfig): number {
  const chosen = config.alreadyFullBytes > 0 ? config.alreadyFullBytes : Math.floor(reservedBytes / 10);
  return Math.min(Math.max(chosen, Math.floor(config.engineHeadroomBytes / 2)), reservedBytes);
}

/** The level of a sample; a recent ENOSPC makes it alreadyFull whatever statfs says. */
export function diskUsageOf(
  sample: DiskSample,
  reservedBytes: number,
  alreadyFullBytes: number,
  noSpaceSeen: boolean,
): DiskUsage {
  if (!(alreadyFullBytes <= reservedBytes)) throw new RangeError('alreadyFullBytes above reservedBytes');
  if (noSpaceSeen || sample.availableBytes < alreadyFullBytes) return 'alreadyFull';
  if (sample.availableBytes < reservedBytes) return 'almostFull';
  return 'normal';
}

/** What a store reports of its disk (store heartbeats, status). */
export interface DiskReport extends DiskSample {
  readonly reservedBytes: number;
  readonly usage: DiskUsage;
  readonly placeholderBytes: number;
}

export type StatFs = (path: string) => Promise<DiskSample>;

export const realStatFs: StatFs = async (path) => {
  const fs = await statfs(path);
  return { capacityBytes: fs.blocks * fs.bsize, availableBytes: fs.bavail * fs.bsize };
};

/** A disk has a few listeners (the store); more is a leak. */
const USAGE_LISTENERS_MAX = 8;

/** Bytes written per call when filling the placeholder. */
const PLACEHOLDER_CHUNK_BYTES = 1024 * 1024;

export class DiskSpace {
  private sample: DiskSample = { capacityBytes: 0, availableBytes: 0 };
  private noSpaceSeen = false;
  private placeholderSizeBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private lastUsage: DiskUsage = 'normal';
  private refreshing: Promise<void> | undefined;
  private readonly usageListeners: Array<(usage: DiskUsage) => void> = [];

  private constructor(
    private readonly dataDir: string,
    readonly config: DiskConfig,
    private readonly statFs: StatFs,
    private readonly log: (line: string) => void,
  ) {}

  /**
   * Reads the disk before the engine opens. On an already full disk the placeholder goes
   * (LevelDB needs room to open); otherwise it is written if missing and there is room.
   */
  static async open(
    dataDir: string,
    config: Partial<DiskConfig>,
    log: (line: string) => void,
    statFs: StatFs = realStatFs,
  ): Promise<DiskSpace> {
    const disk = new DiskSpace(dataDir, { ...DISK_CONFIG_DEFAULTS, ...config }, statFs, log);
    disk.placeholderSizeBytes = await fileSizeBytes(disk.placeholderPath);
    await disk.refresh();
    const reserved = disk.reservedBytes;
    log(
      `disk: reserve ${mib(reserved)}, already full below ${mib(alreadyFullBytesFor(reserved, disk.config))}` +
        (disk.config.engineHeadroomBytes > 0
          ? ` (the engine needs ${mib(disk.config.engineHeadroomBytes)})`
          : '') +
        `; ${disk.describe()}`,
    );
    if (disk.usage === 'alreadyFull' && disk.placeholderSizeBytes > 0) await disk.releasePlaceholder('start');
    else await disk.maybeWritePlaceholder();
    return disk;
  }

  /** Calls `listener` with each new level (the store flushes its memtable when the disk fills). */
  onUsageChange(listener: (usage: DiskUsage) => void): void {
    if (this.usageListeners.length >= USAGE_LISTENERS_MAX) throw new Error('disk: too many usage listeners');
    this.usageListeners.push(listener);
  }

  /** Samples statfs every checkIntervalMs until stop(). */
  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => void this.refreshAndMaintain(), this.config.checkIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  get placeholderPath(): string {
    return join(this.dataDir, PLACEHOLDER_FILE_NAME);
  }

  get reservedBytes(): number {
    return reservedBytesFor(this.sample.capacityBytes, this.config);
  }

  get usage(): DiskUsage {
    const reserved = this.reservedBytes;
    return diskUsageOf(this.sample, reserved, alreadyFullBytesFor(reserved, this.config), this.noSpaceSeen);
  }

  report(): DiskReport {
    return {
      ...this.sample,
      reservedBytes: this.reservedBytes,
      usage: this.usage,
      placeholderBytes: this.placeholderSizeBytes,
    };
  }

  /** "3.2 MiB available of 24.0 MiB, 1.2 MiB reserved", for error messages. */
  describe(): string {
    const r = this.report();
    return `${mib(r.availableBytes)} available of ${mib(r.capacityBytes)}, ${mib(r.reservedBytes)} reserved${this.noSpaceSeen ? ', a write hit ENOSPC' : ''}`;
  }

  /**
   * A write failed for lack of space: alreadyFull until statfs shows the disk back above
   * the reserve. The placeholder goes, so that the retried write can land.
   */
  async noteNoSpace(): Promise<void> {
    this.noSpaceSeen = true;
    this.noteUsage();
    if (this.placeholderSizeBytes > 0) await this.releasePlaceholder('ENOSPC');
    await this.refresh();
  }

  /** Reads statfs now (concurrent callers share one reading). */
  refresh(): Promise<void> {
    this.refreshing ??= this.readSample().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async readSample(): Promise<void> {
    try {
      this.sample = await this.statFs(this.dataDir);
    } catch (err) {
      // Unknown: keep the last reading rather than guess either way.
      this.log(`disk: statfs ${this.dataDir} failed: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    // An ENOSPC is forgotten only once the disk has room again (above the reserve).
    if (this.noSpaceSeen && this.sample.availableBytes >= this.reservedBytes) this.noSpaceSeen = false;
    this.noteUsage();
  }

  private async refreshAndMaintain(): Promise<void> {
    await this.refresh();
    await this.maybeWritePlaceholder();
  }

  private noteUsage(): void {
    const usage = this.usage;
    if (usage === this.lastUsage) return;
    this.log(`disk: ${this.lastUsage} -> ${usage} (${this.describe()})`);
    this.lastUsage = usage;
    for (const listener of this.usageListeners) listener(usage);
  }

  private async releasePlaceholder(why: 'start' | 'ENOSPC'): Promise<void> {
    try {
      await unlink(this.placeholderPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    this.log(`disk: deleted the ${mib(this.placeholderSizeBytes)} placeholder (${why}: ${this.describe()})`);
    this.placeholderSizeBytes = 0;
    await this.refresh();
  }

  /**
   * Writes the placeholder if it is configured, missing, and the disk holds it with the
   * reserve and as much again to spare (so writing it never makes the store almost full).
   */
  private async maybeWritePlaceholder(): Promise<void> {
    const automatic = this.config.placeholderBytes === 0;
    const size = automatic ? this.config.engineReopenBytes : this.config.placeholderBytes;
    if (size === 0 || this.placeholderSizeBytes >= size || this.usage !== 'normal') return;
    if (this.sample.availableBytes < this.reservedBytes + 2 * size) return;
    if (automatic && this.sample.availableBytes >= AUTO_PLACEHOLDER_BELOW_RESERVES * this.reservedBytes)
      return;
    try {
      await writeFilledFile(this.placeholderPath, size);
      this.placeholderSizeBytes = size;
      this.log(`disk: wrote the ${mib(size)} placeholder ${this.placeholderPath}`);
    } catch (err) {
      await unlink(this.placeholderPath).catch(() => undefined);
      this.log(`disk: cannot write the placeholder: ${err instanceof Error ? err.message : String(err)}`);
    }
    await this.refresh();
  }
}

async function fileSizeBytes(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/** Real bytes, synced: a sparse file (truncate) would hold no space at all. */
async function writeFilledFile(path: string, sizeBytes: number): Promise<void> {
  const file = await open(path, 'w');
  try {
    const chunk = Buffer.alloc(Math.min(PLACEHOLDER_CHUNK_BYTES, sizeBytes), 0x5a);
    for (let written = 0; written < sizeBytes;) {
      const n = Math.min(chunk.length, sizeBytes - written);
      await file.write(chunk, 0, n);
      written += n;
    }
    await file.sync();
  } finally {
    await file.close();
  }
}

export function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}
