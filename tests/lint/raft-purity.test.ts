// Proves the ESLint fence around raft/src: each construct that would make the consensus
// core impure (I/O, clock, global randomness, timers, asynchrony) is rejected there, and
// the same code is accepted elsewhere, so the rule targets the core and nothing else.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const root = fileURLToPath(new URL('../..', import.meta.url));
const eslint = new ESLint({ cwd: root });

async function ruleIdsFor(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  assert.ok(result, 'ESLint returned no result');
  return result.messages.map((m) => `${m.ruleId ?? 'fatal'}: ${m.message}`);
}

const corePath = `${root}raft/src/purity-probe.ts`;
const serverPath = `${root}server/src/purity-probe.ts`;

const forbidden: Array<{ construct: string; code: string; rule: string }> = [
  {
    construct: 'a node: import',
    code: "import { readFileSync } from 'node:fs';\nexport const f = readFileSync;\n",
    rule: 'no-restricted-imports',
  },
  {
    construct: 'a bare builtin import',
    code: "import { EventEmitter } from 'events';\nexport const e = EventEmitter;\n",
    rule: 'no-restricted-imports',
  },
  {
    construct: 'Date',
    code: 'export const now = (): number => Date.now();\n',
    rule: 'no-restricted-globals',
  },
  {
    construct: 'Math.random',
    code: 'export const r = (): number => Math.random();\n',
    rule: 'no-restricted-syntax',
  },
  {
    construct: 'setTimeout',
    code: 'export const t = (): unknown => setTimeout(() => undefined, 1);\n',
    rule: 'no-restricted-globals',
  },
  {
    construct: 'setInterval',
    code: 'export const t = (): unknown => setInterval(() => undefined, 1);\n',
    rule: 'no-restricted-globals',
  },
  {
    construct: 'queueMicrotask',
    code: 'export const t = (): void => queueMicrotask(() => undefined);\n',
    rule: 'no-restricted-globals',
  },
  {
    construct: 'an async function',
    code: 'export async function f(): Promise<number> {\n  return 1;\n}\n',
    rule: 'no-restricted-syntax',
  },
  {
    construct: 'an async arrow',
    code: 'export const f = async (): Promise<void> => {};\n',
    rule: 'no-restricted-syntax',
  },
  {
    construct: 'await',
    code: 'export async function f(p: PromiseLike<number>): Promise<number> {\n  return await p;\n}\n',
    rule: 'no-restricted-syntax',
  },
  {
    construct: 'new Promise',
    code: 'export const p = new Promise<void>((resolve) => resolve());\n',
    rule: 'no-restricted-globals',
  },
  {
    construct: 'a promise chain',
    code: 'export const g = (p: PromiseLike<number>): unknown => p.then((x) => x);\n',
    rule: 'no-restricted-syntax',
  },
  {
    construct: 'process',
    code: 'export const env = (): unknown => process.env;\n',
    rule: 'no-restricted-globals',
  },
  {
    construct: 'a dynamic import',
    code: "export const m = (): unknown => import('./x.js');\n",
    rule: 'no-restricted-syntax',
  },
];

describe('raft/src purity lint rule', () => {
  for (const { construct, code, rule } of forbidden) {
    it(`rejects ${construct} in raft/src`, async () => {
      const problems = await ruleIdsFor(code, corePath);
      assert.ok(
        problems.some((p) => p.startsWith(`${rule}:`)),
        `expected ${rule} to reject ${construct}; got: ${problems.join(' | ') || 'no problems'}`,
      );
    });
  }

  it('accepts pure, synchronous code in raft/src', async () => {
    const code =
      'export function quorum(voters: number): number {\n  return Math.floor(voters / 2) + 1;\n}\n';
    assert.deepEqual(await ruleIdsFor(code, corePath), []);
  });

  it('does not apply outside raft/src (the server may use timers and I/O)', async () => {
    const code =
      "import { readFileSync } from 'node:fs';\nexport const f = readFileSync;\nexport const now = (): number => Date.now();\nexport const r = (): number => Math.random();\n";
    assert.deepEqual(await ruleIdsFor(code, serverPath), []);
  });
});
