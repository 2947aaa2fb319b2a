// The region heartbeat rules: older epochs and older terms are stale, a range overlapping a
// newer region is stale, and only metadata changes (epoch, range, peers) are persisted.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { judgeRegionHeartbeat, metadataChanged } from '../src/cluster/heartbeat-rules.js';
import { info, region } from './helpers/regions.js';

describe('region heartbeat rules', () => {
  it('accepts and persists a region PD has never seen', () => {
    const verdict = judgeRegionHeartbeat(undefined, [], { region: region(1, '', ''), term: 1 });
    assert.deepEqual(verdict, { kind: 'accept', persist: true });
  });

  it('accepts without persisting a heartbeat that changes nothing persisted', () => {
    const known = info(region(1, '', '', { version: 2, confVer: 3 }), 5);
    const verdict = judgeRegionHeartbeat(known, [], {
      region: region(1, '', '', { version: 2, confVer: 3 }),
      term: 5,
    });
    assert.deepEqual(verdict, { kind: 'accept', persist: false });
  });

  it('persists a newer epoch (split, merge, membership change)', () => {
    const known = info(region(1, '', ''), 5);
    for (const epoch of [{ version: 2 }, { confVer: 2 }]) {
      const verdict = judgeRegionHeartbeat(known, [], { region: region(1, '', '', epoch), term: 5 });
      assert.deepEqual(verdict, { kind: 'accept', persist: true });
    }
  });

  it('calls an older version or conf version stale', () => {
    const known = info(region(1, '', 'm', { version: 3, confVer: 3 }), 5);
    for (const epoch of [
      { version: 2, confVer: 3 },
      { version: 3, confVer: 2 },
      { version: 4, confVer: 2 },
    ]) {
      const verdict = judgeRegionHeartbeat(known, [], { region: region(1, '', 'm', epoch), term: 9 });
      assert.equal(verdict.kind, 'stale', JSON.stringify(epoch));
    }
  });

  it('calls a report from an older term at the same epoch stale (a deposed leader)', () => {
    const known = info(region(1, '', ''), 7);
    assert.equal(judgeRegionHeartbeat(known, [], { region: region(1, '', ''), term: 6 }).kind, 'stale');
    assert.equal(judgeRegionHeartbeat(known, [], { region: region(1, '', ''), term: 8 }).kind, 'accept');
  });

  it('calls a pre-split range stale once a split half with a newer version is known', () => {
    const rightHalf = info(region(2, 'm', '', { version: 2 }));
    const verdict = judgeRegionHeartbeat(undefined, [rightHalf], { region: region(1, '', ''), term: 3 });
    assert.equal(verdict.kind, 'stale');
  });

  it('accepts a split half overlapping the older parent (the parent will be replaced)', () => {
    const parent = info(region(1, '', ''));
    const verdict = judgeRegionHeartbeat(undefined, [parent], {
      region: region(2, 'm', '', { version: 2 }),
      term: 1,
    });
    assert.deepEqual(verdict, { kind: 'accept', persist: true });
  });

  it('sees peer changes as metadata changes, whatever the order of peers', () => {
    const a = region(1, '', '', {}, [
      [11, 1],
      [12, 2],
    ]);
    const reordered = region(1, '', '', {}, [
      [12, 2],
      [11, 1],
    ]);
    const moved = region(1, '', '', {}, [
      [11, 1],
      [13, 3],
    ]);
    assert.equal(metadataChanged(a, reordered), false);
    assert.equal(metadataChanged(a, moved), true);
  });
});
