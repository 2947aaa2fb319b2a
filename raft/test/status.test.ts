// status() and basicStatus(): what callers read to match proposals with applied entries
// and to route requests, so both must agree and basicStatus must name the proposal's index.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Network, bytes } from './helpers/network.js';

describe('status', () => {
  it('basicStatus agrees with status() and gives the index and term a proposal was appended at', () => {
    const net = new Network({ voters: [1, 2, 3] });
    net.elect(1);
    const leader = net.node(1);
    const before = leader.basicStatus();
    assert.equal(leader.propose(bytes('x')).ok, true);
    const after = leader.basicStatus();
    assert.equal(after.lastIndex, before.lastIndex + 1);
    assert.equal(after.term, before.term);
    net.stabilize();
    const full = leader.status();
    const basic = leader.basicStatus();
    assert.deepEqual(
      {
        term: basic.term,
        commit: basic.commit,
        applied: basic.applied,
        lastIndex: basic.lastIndex,
        role: basic.role,
        leaderId: basic.leaderId,
      },
      {
        term: full.term,
        commit: full.commit,
        applied: full.applied,
        lastIndex: full.lastIndex,
        role: full.role,
        leaderId: full.leaderId,
      },
    );
    assert.equal(net.appliedData(2).at(-1), 'x');
    assert.equal(net.node(2).basicStatus().leaderId, 1);
  });
});
