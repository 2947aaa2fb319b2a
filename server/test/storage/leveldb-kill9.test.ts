// Durability of the LevelDB engine under kill -9: every write acknowledged by a child
// process (its synced batch resolved) is there after the child is SIGKILLed mid-load and
// the database is reopened.
import { after, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LevelDbEngine } from '../../src/storage/leveldb-engine.js';

const dir = mkdtempSync(join(tmpdir(), 'flotilla-kill9-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const acksBeforeKill = 300;

it('keeps every acknowledged synced write after kill -9', async () => {
  const writer = fileURLToPath(new URL('./fixtures/synced-writer.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', writer, dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let lastAck = -1;
  let buffered = '';
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on('exit', (_code, signal) => resolve(signal)),
  );
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`writer exited early with code ${code}`)));
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const n = Number(line.slice('ack '.length));
        assert.equal(n, lastAck + 1, `acks arrive in order (got '${line}')`);
        lastAck = n;
      }
      if (lastAck >= acksBeforeKill) {
        child.kill('SIGKILL');
        resolve();
      }
    });
  });
  assert.equal(await exited, 'SIGKILL');

  const engine = await LevelDbEngine.open(dir);
  const te = new TextEncoder();
  const missing: number[] = [];
  for (let i = 0; i <= lastAck; i++) {
    if (engine.getSync(te.encode(`key-${String(i).padStart(7, '0')}`)) === undefined) missing.push(i);
  }
  await engine.close();
  assert.deepEqual(missing, [], `acknowledged writes lost after kill -9 (last ack ${lastAck})`);
});
