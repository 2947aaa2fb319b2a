// Unit tests of the ConfChange binary codec: round trips and rejection of garbage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfChangeDecodeError, decodeConfChange, encodeConfChange } from '../src/index.js';
import type { ConfChange } from '../src/index.js';

const sample: ConfChange = {
  transition: 'jointExplicit',
  changes: [
    { type: 'addVoter', nodeId: 4 },
    { type: 'addLearner', nodeId: 2 ** 40 },
    { type: 'removeNode', nodeId: 1 },
  ],
  context: new Uint8Array([9, 8, 7]),
};

test('encode then decode returns the same ConfChange, for every transition', () => {
  for (const transition of ['auto', 'jointImplicit', 'jointExplicit'] as const) {
    const cc = { ...sample, transition };
    assert.deepEqual(decodeConfChange(encodeConfChange(cc)), cc);
  }
  const empty: ConfChange = { transition: 'auto', changes: [], context: new Uint8Array(0) };
  assert.deepEqual(decodeConfChange(encodeConfChange(empty)), empty);
});

test('the encoding is compact', () => {
  const cc: ConfChange = {
    transition: 'auto',
    changes: [{ type: 'addVoter', nodeId: 5 }],
    context: new Uint8Array(0),
  };
  assert.ok(encodeConfChange(cc).byteLength <= 8);
});

test('decode rejects garbage with ConfChangeDecodeError', () => {
  const good = encodeConfChange(sample);
  const cases: Uint8Array[] = [
    new Uint8Array(0),
    new Uint8Array([0x00, 1, 0, 0, 0]), // bad magic
    new Uint8Array([0xcc, 2, 0, 0, 0]), // bad version
    new Uint8Array([0xcc, 1, 9, 0, 0]), // bad transition
    new Uint8Array([0xcc, 1, 0, 1, 7, 1, 0]), // bad change type
    new Uint8Array([0xcc, 1, 0, 1, 0, 0, 0]), // node NONE
    new Uint8Array([0xcc, 1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), // overlong varint
    new Uint8Array([0xcc, 1, 0, 0x80, 0x80, 0x01]), // too many changes
    new Uint8Array([0xcc, 1, 0, 0, 0x80, 0x80, 0x08]), // context too large
    good.slice(0, good.byteLength - 1), // truncated context
    Uint8Array.from([...good, 0]), // trailing byte
  ];
  for (const data of cases)
    assert.throws(() => decodeConfChange(data), ConfChangeDecodeError, `accepted ${[...data]}`);
});

test('encode refuses an invalid ConfChange', () => {
  assert.throws(
    () => encodeConfChange({ ...sample, changes: [{ type: 'addVoter', nodeId: 0 }] }),
    RangeError,
  );
  assert.throws(() => encodeConfChange({ ...sample, transition: 'bogus' as never }), RangeError);
  assert.throws(
    () => encodeConfChange({ ...sample, changes: [{ type: 'bogus' as never, nodeId: 1 }] }),
    RangeError,
  );
  assert.throws(() => encodeConfChange({ ...sample, context: new Uint8Array(70_000) }), RangeError);
  const many = Array.from({ length: 1025 }, (_, i) => ({ type: 'addVoter' as const, nodeId: i + 1 }));
  assert.throws(() => encodeConfChange({ ...sample, changes: many }), RangeError);
});
