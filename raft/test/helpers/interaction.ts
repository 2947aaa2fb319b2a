// A tiny script runner in the spirit of etcd's interaction tests: a script of commands
// drives a Network, and the transcript (messages, roles, commits) is compared with a golden
// file. Run with UPDATE_GOLDEN=1 to rewrite the golden files after an intended change.
import type { Message, NodeId } from '../../src/index.js';
import { Network, bytes, text } from './network.js';

function formatMessage(m: Message): string {
  const parts = [`${m.from}->${m.to} ${m.type} term=${m.term}`];
  if (m.type === 'app' || m.type === 'appResp' || m.type.startsWith('vote') || m.type.startsWith('preVote')) {
    parts.push(`index=${m.index} logTerm=${m.logTerm}`);
  }
  if (m.type === 'app' || m.type === 'heartbeat') parts.push(`commit=${m.commit}`);
  if (m.entries.length > 0) parts.push(`entries=[${m.entries.map((e) => `${e.term}/${e.index}`).join(' ')}]`);
  if (m.reject) parts.push(`reject hint=${m.rejectHint}`);
  if (m.snapshot !== null) parts.push(`snapshot=${m.snapshot.metadata.term}/${m.snapshot.metadata.index}`);
  if (m.type === 'readIndex' || m.type === 'readIndexResp') parts.push(`ctx=${text(m.context)}`);
  return parts.join(' ');
}

function formatStatus(net: Network, id: NodeId): string {
  const s = net.node(id).status();
  return `${id}: ${s.role} term=${s.term} vote=${s.vote} lead=${s.leaderId} commit=${s.commit} applied=${s.applied} last=${s.lastIndex}`;
}

/** Runs a script; returns the transcript. */
export function runInteraction(script: string): string {
  const out: string[] = [];
  let net: Network | null = null;
  const need = (): Network => {
    if (net === null) throw new Error('the script must start with "cluster <ids...>"');
    return net;
  };
  const deliverRounds = (n: Network): void => {
    for (let round = 0; round < 1000; round++) {
      let busy = false;
      for (const id of [...n.nodes.keys()].sort((a, b) => a - b)) {
        const before = n.queue.length;
        busy = n.processReady(id) || busy;
        for (const m of n.queue.slice(before)) out.push(`  ${formatMessage(m)}`);
      }
      if (n.deliver() > 0) busy = true;
      if (!busy) return;
    }
    throw new Error('did not stabilize');
  };
  for (const line of script.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    out.push(`> ${trimmed}`);
    const [cmd, ...args] = trimmed.split(/\s+/);
    const num = (i: number): number => Number(args[i]);
    switch (cmd) {
      case 'cluster':
        net = new Network({ voters: args.map(Number), seed: 1 });
        break;
      case 'campaign':
        need().node(num(0)).campaign();
        break;
      case 'propose':
        out.push(
          `  ${JSON.stringify(
            need()
              .node(num(0))
              .propose(bytes(args[1] ?? '')),
          )}`,
        );
        break;
      case 'read':
        out.push(
          `  ${JSON.stringify(
            need()
              .node(num(0))
              .readIndex(bytes(args[1] ?? ''), args[2] === 'lease' ? 'lease' : 'safe'),
          )}`,
        );
        break;
      case 'transfer':
        need().node(num(0)).transferLeader(num(1));
        break;
      case 'tick':
        need().tick(num(0), num(1) || 1);
        break;
      case 'isolate':
        need().isolate(num(0));
        break;
      case 'heal':
        need().heal();
        break;
      case 'stabilize':
        deliverRounds(need());
        break;
      case 'status':
        for (const id of [...need().nodes.keys()].sort((a, b) => a - b))
          out.push(`  ${formatStatus(need(), id)}`);
        break;
      case 'reads':
        for (const [id, states] of need().readStates) {
          for (const rs of states) out.push(`  ${id}: read ${text(rs.requestCtx)} at ${rs.index}`);
        }
        break;
      default:
        throw new Error(`unknown command: ${trimmed}`);
    }
  }
  return `${out.join('\n')}\n`;
}
