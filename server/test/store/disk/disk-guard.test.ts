// What a store refuses on a (almost) full disk: proposals that add data; never deletes,
// delete-ranges, expiry sweeps, read barriers or admin commands. Appends with entries are
// dropped only when the disk is already full.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Message } from '@flotilla/raft';
import { raftpb } from '@flotilla/proto';
import type { DiskUsage } from '../../../src/storage/disk-space.js';
import type { StoreDisk } from '../../../src/store/disk/disk-guard.js';
import { commandAllowedOn, diskFullRefusal, dropsOnFullDisk } from '../../../src/store/disk/disk-guard.js';

const k = Buffer.from('k');
const put: raftpb.WriteOp = {
  op: { $case: 'put', put: { key: k, value: Buffer.from('v'), expireAtUnixMs: 0n } },
};
const del: raftpb.WriteOp = { op: { $case: 'delete', delete: { key: k } } };
const delRange: raftpb.WriteOp = {
  op: { $case: 'deleteRange', deleteRange: { startKey: k, endKey: Buffer.from('z') } },
};
const write = (...ops: raftpb.WriteOp[]): raftpb.RaftCommand => ({
  command: { $case: 'write', write: { ops } },
});

function disk(usage: DiskUsage): StoreDisk {
  return {
    usage,
    describe: () => '1.0 MiB available of 24.0 MiB, 1.2 MiB reserved',
    noteNoSpace: () => Promise.resolve(),
    refresh: () => Promise.resolve(),
  };
}

describe('disk guard', () => {
  it('accepts everything on a normal disk', () => {
    assert.equal(commandAllowedOn('normal', write(put)), true);
  });

  for (const usage of ['almostFull', 'alreadyFull'] as const) {
    it(`${usage}: refuses puts (alone or with deletes), accepts deletes and delete-ranges`, () => {
      assert.equal(commandAllowedOn(usage, write(put)), false);
      assert.equal(commandAllowedOn(usage, write(del, put)), false);
      assert.equal(commandAllowedOn(usage, write(del, delRange)), true);
      assert.equal(commandAllowedOn(usage, write({ op: { $case: 'expire', expire: { key: k } } })), true);
    });

    it(`${usage}: a compare-and-swap that stores a value is refused, one that deletes is not`, () => {
      const cas = (update: raftpb.CompareAndSwapCommand['update']): raftpb.RaftCommand => ({
        command: {
          $case: 'compareAndSwap',
          compareAndSwap: { key: k, expected: undefined, update, expireAtUnixMs: 0n },
        },
      });
      assert.equal(commandAllowedOn(usage, cas({ $case: 'newValue', newValue: Buffer.from('v') })), false);
      assert.equal(commandAllowedOn(usage, cas({ $case: 'delete', delete: {} })), true);
    });

    it(`${usage}: read barriers and admin commands go through`, () => {
      assert.equal(commandAllowedOn(usage, { command: { $case: 'readBarrier', readBarrier: {} } }), true);
      assert.equal(
        commandAllowedOn(usage, {
          command: { $case: 'compactLog', compactLog: { compactIndex: 5n, compactTerm: 1n } },
        }),
        true,
      );
    });
  }

  const putData = raftpb.RaftCommand.encode(write(put)).finish();
  const delData = raftpb.RaftCommand.encode(write(del)).finish();
  const allNormal = (): DiskUsage => 'normal';
  const VOTERS = [7, 8, 9];

  it('answers a put on an almost full store with DiskFull naming the store and the disk', () => {
    assert.deepEqual(diskFullRefusal(disk('almostFull'), allNormal, VOTERS, putData, 7), {
      kind: 'diskFull',
      storeIds: [7],
      reason: 'almostFull: 1.0 MiB available of 24.0 MiB, 1.2 MiB reserved',
    });
    assert.equal(diskFullRefusal(disk('normal'), allNormal, VOTERS, putData, 7), undefined);
    assert.equal(diskFullRefusal(undefined, allNormal, VOTERS, putData, 7), undefined);
    assert.equal(diskFullRefusal(disk('almostFull'), allNormal, VOTERS, delData, 7), undefined);
  });

  it('refuses a put on a leader with room when a quorum of voters cannot persist it', () => {
    const oneFull = (id: number): DiskUsage => (id === 9 ? 'alreadyFull' : 'normal');
    const twoFull = (id: number): DiskUsage => (id === 7 ? 'normal' : 'almostFull');
    // One full follower of three: the other two still make a quorum.
    assert.equal(diskFullRefusal(disk('normal'), oneFull, VOTERS, putData, 7), undefined);
    const refusal = diskFullRefusal(disk('normal'), twoFull, VOTERS, putData, 7);
    assert.equal(refusal?.kind, 'diskFull');
    assert.deepEqual(refusal?.kind === 'diskFull' ? refusal.storeIds : [], [8, 9]);
    // Deletes still go: they are what frees space.
    assert.equal(diskFullRefusal(disk('normal'), twoFull, VOTERS, delData, 7), undefined);
  });

  it('drops appends with entries only when the disk is already full', () => {
    const app = {
      type: 'app',
      entries: [{ index: 1, term: 1, type: 'normal', data: new Uint8Array(1) }],
    } as unknown as Message;
    const emptyApp = { type: 'app', entries: [] } as unknown as Message;
    const heartbeat = { type: 'heartbeat', entries: [] } as unknown as Message;
    assert.equal(dropsOnFullDisk(disk('alreadyFull'), app), true);
    assert.equal(dropsOnFullDisk(disk('alreadyFull'), emptyApp), false);
    assert.equal(dropsOnFullDisk(disk('alreadyFull'), heartbeat), false);
    assert.equal(dropsOnFullDisk(disk('almostFull'), app), false);
    assert.equal(dropsOnFullDisk(undefined, app), false);
  });
});
