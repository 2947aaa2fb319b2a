// The disk levels and the placeholder file: the reserve is 5% of the disk capped at 1 GiB
// unless configured; below it the store is almost full, below a tenth of it (or after an
// ENOSPC, until the disk has room again) already full. The placeholder is written only with
// room to spare, and goes when the store starts on a full disk or a write hits ENOSPC.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DiskSample } from '../../src/storage/disk-space.js';
import {
  DISK_CONFIG_DEFAULTS,
  DiskSpace,
  PLACEHOLDER_FILE_NAME,
  alreadyFullBytesFor,
  engineHeadroomBytesFor,
  engineReopenBytesFor,
  diskUsageOf,
  reservedBytesFor,
} from '../../src/storage/disk-space.js';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('disk levels', () => {
  it('reserves 5% of a small disk, 1 GiB of a large one, or the configured amount', () => {
    assert.equal(reservedBytesFor(100 * MIB, DISK_CONFIG_DEFAULTS), 5 * MIB);
    assert.equal(reservedBytesFor(1000 * GIB, DISK_CONFIG_DEFAULTS), GIB);
    assert.equal(reservedBytesFor(1000 * GIB, { ...DISK_CONFIG_DEFAULTS, reservedBytes: 3 * MIB }), 3 * MIB);
  });

  it('is already full below a tenth of the reserve by default, or below the configured bound', () => {
    assert.equal(alreadyFullBytesFor(10 * MIB, DISK_CONFIG_DEFAULTS), MIB);
    assert.equal(
      alreadyFullBytesFor(10 * MIB, { ...DISK_CONFIG_DEFAULTS, alreadyFullBytes: 2 * MIB }),
      2 * MIB,
    );
    // Never above the reserve.
    assert.equal(alreadyFullBytesFor(MIB, { ...DISK_CONFIG_DEFAULTS, alreadyFullBytes: 2 * MIB }), MIB);
  });

  it("never reserves less than the engine's headroom, nor sets the already-full line below half of it", () => {
    // A 1 MiB memtable: one flush and a level-0 compaction (5 memtables) plus all of level 1.
    const headroom = engineHeadroomBytesFor(MIB);
    assert.equal(headroom, 15 * MIB);
    const config = { ...DISK_CONFIG_DEFAULTS, engineHeadroomBytes: headroom };
    assert.equal(reservedBytesFor(48 * MIB, config), 15 * MIB);
    assert.equal(reservedBytesFor(48 * MIB, { ...config, reservedBytes: MIB }), 15 * MIB);
    assert.equal(reservedBytesFor(1000 * GIB, config), GIB);
    assert.equal(alreadyFullBytesFor(15 * MIB, config), Math.floor(7.5 * MIB));
    assert.equal(alreadyFullBytesFor(GIB, config), Math.floor(GIB / 10));
    // The store's default memtable (32 MiB) only matters on disks under ~3.3 GiB.
    assert.equal(engineHeadroomBytesFor(32 * MIB), 170 * MIB);
    assert.equal(engineReopenBytesFor(32 * MIB), 33 * MIB);
  });

  it('maps available space to normal, almostFull and alreadyFull; an ENOSPC forces alreadyFull', () => {
    const at = (availableBytes: number, noSpace = false): string =>
      diskUsageOf({ capacityBytes: 100 * MIB, availableBytes }, 5 * MIB, MIB / 2, noSpace);
    assert.equal(at(5 * MIB), 'normal');
    assert.equal(at(5 * MIB - 1), 'almostFull');
    assert.equal(at(MIB / 2), 'almostFull');
    assert.equal(at(MIB / 2 - 1), 'alreadyFull');
    assert.equal(at(50 * MIB, true), 'alreadyFull');
    assert.throws(() => diskUsageOf({ capacityBytes: 1, availableBytes: 1 }, 1, 2, false), RangeError);
  });
});

/** A disk whose available space the test sets; the placeholder's size is taken off it. */
function fakeDisk(capacityBytes: number): { sample: DiskSample; setAvailable(bytes: number): void } {
  const disk = {
    sample: { capacityBytes, availableBytes: capacityBytes },
    setAvailable(bytes: number) {
      disk.sample = { capacityBytes, availableBytes: bytes };
    },
  };
  return disk;
}

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-disk-'));
  dirs.push(dir);
  return dir;
}

describe('DiskSpace', () => {
  it('writes the placeholder when the disk has room for it twice over beside the reserve', async () => {
    const dir = dataDir();
    const disk = fakeDisk(100 * MIB);
    const space = await DiskSpace.open(
      dir,
      { placeholderBytes: MIB },
      () => undefined,
      () => Promise.resolve(disk.sample),
    );
    assert.equal(statSync(join(dir, PLACEHOLDER_FILE_NAME)).size, MIB);
    assert.equal(space.report().placeholderBytes, MIB);
    assert.equal(space.usage, 'normal');
  });

  it('keeps an automatic placeholder of the room LevelDB needs to open, once the disk nears full', async () => {
    const dir = dataDir();
    const disk = fakeDisk(100 * MIB); // reserve 5 MiB
    const config = { engineReopenBytes: 2 * MIB, checkIntervalMs: 10 };
    const roomy = await DiskSpace.open(
      dir,
      config,
      () => undefined,
      () => Promise.resolve(disk.sample),
    );
    assert.equal(existsSync(join(dir, PLACEHOLDER_FILE_NAME)), false, 'none on a roomy disk');
    roomy.stop();
    disk.setAvailable(19 * MIB); // under 4 reserves, and room for it twice beside the reserve
    const near = await DiskSpace.open(
      dir,
      config,
      () => undefined,
      () => Promise.resolve(disk.sample),
    );
    assert.equal(statSync(join(dir, PLACEHOLDER_FILE_NAME)).size, 2 * MIB);
    assert.equal(near.report().placeholderBytes, 2 * MIB);
  });

  it('leaves the placeholder out when writing it would eat into the reserve', async () => {
    const dir = dataDir();
    const disk = fakeDisk(100 * MIB);
    disk.setAvailable(6 * MIB); // reserve 5 MiB: 1 MiB twice does not fit beside it
    await DiskSpace.open(
      dir,
      { placeholderBytes: MIB },
      () => undefined,
      () => Promise.resolve(disk.sample),
    );
    assert.equal(existsSync(join(dir, PLACEHOLDER_FILE_NAME)), false);
  });

  it('deletes the placeholder when it starts on a full disk', async () => {
    const dir = dataDir();
    const disk = fakeDisk(100 * MIB);
    const log: string[] = [];
    await DiskSpace.open(
      dir,
      { placeholderBytes: MIB },
      () => undefined,
      () => Promise.resolve(disk.sample),
    );
    disk.setAvailable(0);
    const space = await DiskSpace.open(
      dir,
      { placeholderBytes: MIB },
      (l) => log.push(l),
      () => Promise.resolve(disk.sample),
    );
    assert.equal(existsSync(join(dir, PLACEHOLDER_FILE_NAME)), false);
    assert.equal(space.report().placeholderBytes, 0);
    assert.ok(
      log.some((l) => l.includes('deleted the 1.0 MiB placeholder (start')),
      log.join('\n'),
    );
  });

  it('is already full after an ENOSPC until statfs shows the reserve free again, and drops the placeholder', async () => {
    const dir = dataDir();
    const disk = fakeDisk(100 * MIB);
    const space = await DiskSpace.open(
      dir,
      { placeholderBytes: MIB },
      () => undefined,
      () => Promise.resolve(disk.sample),
    );
    disk.setAvailable(4 * MIB); // statfs alone says almost full; a write just failed
    await space.noteNoSpace();
    assert.equal(existsSync(join(dir, PLACEHOLDER_FILE_NAME)), false);
    disk.setAvailable(4 * MIB);
    await space.refresh();
    assert.equal(space.usage, 'alreadyFull');
    disk.setAvailable(6 * MIB);
    await space.refresh();
    assert.equal(space.usage, 'normal');
    assert.match(space.describe(), /6\.0 MiB available of 100\.0 MiB, 5\.0 MiB reserved/);
  });
});
