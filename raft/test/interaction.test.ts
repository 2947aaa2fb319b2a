// Golden transcripts of scripted interactions (etcd-style): they pin down the exact message
// flow. Regenerate with UPDATE_GOLDEN=1 after an intended change and review the diff.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runInteraction } from './helpers/interaction.js';

const dir = fileURLToPath(new URL('./testdata', import.meta.url));

for (const name of readdirSync(dir)
  .filter((n) => n.endsWith('.txt'))
  .sort()) {
  test(`interaction ${name} matches its golden transcript`, () => {
    const transcript = runInteraction(readFileSync(join(dir, name), 'utf8'));
    const golden = join(dir, name.replace(/\.txt$/, '.golden'));
    if (process.env.UPDATE_GOLDEN === '1' || !existsSync(golden)) writeFileSync(golden, transcript);
    assert.equal(transcript, readFileSync(golden, 'utf8'));
  });
}
