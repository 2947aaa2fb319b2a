// A 3-member etcd 3.4 cluster (Debian's /usr/bin/etcd) on loopback for comparison, each member
// its own process with a fresh temp data directory, registered for teardown. Two profiles:
// etcd's defaults (heartbeat 100 ms, election 1000 ms) and 'tuned', with Flotilla's election
// timeout (100 ms; both randomize it over [t, 2t)) and a 20 ms heartbeat (etcd refuses an
// election timeout under 5 heartbeats; Flotilla's heartbeat is 30 ms).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noop as noPolicy } from 'cockatiel';
import { Etcd3 } from 'etcd3';
import { freePort } from '../../tests/support/store-processes.js';
import { kill9AndWait } from '../../tests/support/child-ready.js';
import { onTeardown } from './teardown.js';

export type EtcdProfile = 'defaults' | 'tuned';

export const ETCD_PROFILE_FLAGS: Record<EtcdProfile, readonly string[]> = {
  defaults: [],
  tuned: ['--heartbeat-interval', '20', '--election-timeout', '100'],
};

/** Found on PATH (where scripts/install-deps.sh puts Debian's etcd-server), or ETCD_BINARY. */
const ETCD_BINARY = process.env.ETCD_BINARY ?? 'etcd';
const START_TIMEOUT_MS = 30_000;
/** Status polls use no retry policy (cockatiel's noop, as etcd3 documents): one try, short deadline. */
const STATUS_DEADLINE_MS = 500;
/** Lines of each member's log kept for error messages (the rest is dropped). */
const LOG_LINES_MAX = 200;

interface Member {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  child?: ChildProcess;
  status?: Etcd3;
  readonly log: string[];
}

export interface EtcdStatusSample {
  readonly member: number;
  /** etcd member id of the leader this member knows ('0' when none). */
  readonly leaderId: string;
  readonly memberId: string;
  readonly term: number;
}

export class EtcdCluster {
  private constructor(
    readonly profile: EtcdProfile,
    readonly baseDir: string,
    private readonly members: Member[],
    readonly stop: () => Promise<void>,
  ) {}

  static async start(profile: EtcdProfile): Promise<EtcdCluster> {
    const baseDir = mkdtempSync(join(tmpdir(), `flotilla-bench-etcd-${profile}-`));
    const members: Member[] = [];
    for (let i = 1; i <= 3; i++) {
      members.push({
        name: `m${i}`,
        clientUrl: `http://127.0.0.1:${await freePort()}`,
        peerUrl: `http://127.0.0.1:${await freePort()}`,
        dataDir: join(baseDir, `m${i}`),
        log: [],
      });
    }
    const stop = onTeardown(`etcd cluster (${profile})`, async () => {
      await Promise.all(
        members.map(async (m) => {
          m.status?.close();
          m.status = undefined;
          if (m.child !== undefined) await kill9AndWait(m.child);
          m.child = undefined;
        }),
      );
      rmSync(baseDir, { recursive: true, force: true });
    });
    const cluster = new EtcdCluster(profile, baseDir, members, stop);
    try {
      await Promise.all(members.map((_, i) => cluster.startMember(i + 1)));
      return cluster;
    } catch (err) {
      await stop();
      throw err;
    }
  }

  clientUrls(): string[] {
    return this.members.map((m) => m.clientUrl);
  }

  /** Pids of the member processes now running. */
  serverPids(): number[] {
    return this.members.flatMap((m) =>
      m.child?.pid !== undefined && m.child.exitCode === null ? [m.child.pid] : [],
    );
  }

  memberPid(member: number): number | undefined {
    return this.member(member).child?.pid;
  }

  /** Starts (or restarts on its data) member `member` (1-based); resolves once it serves clients. */
  startMember(member: number): Promise<void> {
    const m = this.member(member);
    const initialCluster = this.members.map((x) => `${x.name}=${x.peerUrl}`).join(',');
    const args = [
      '--name',
      m.name,
      '--data-dir',
      m.dataDir,
      '--listen-client-urls',
      m.clientUrl,
      '--advertise-client-urls',
      m.clientUrl,
      '--listen-peer-urls',
      m.peerUrl,
      '--initial-advertise-peer-urls',
      m.peerUrl,
      '--initial-cluster',
      initialCluster,
      '--initial-cluster-state',
      'new',
      '--initial-cluster-token',
      `bench-${this.profile}`,
      ...ETCD_PROFILE_FLAGS[this.profile],
    ];
    const child = spawn(ETCD_BINARY, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    m.child = child;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`etcd ${m.name} not ready within ${START_TIMEOUT_MS} ms:\n${m.log.join('')}`)),
        START_TIMEOUT_MS,
      );
      child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
        m.log.push(chunk);
        if (m.log.length > LOG_LINES_MAX) m.log.splice(0, m.log.length - LOG_LINES_MAX);
        if (chunk.includes('ready to serve client requests')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`etcd ${m.name} exited (${code ?? signal}) before ready:\n${m.log.join('')}`));
      });
    });
  }

  /** SIGKILL of member `member`; resolves once it has exited. */
  async kill9(member: number): Promise<void> {
    const m = this.member(member);
    m.status?.close();
    m.status = undefined;
    if (m.child === undefined) return;
    await kill9AndWait(m.child);
    m.child = undefined;
  }

  isRunning(member: number): boolean {
    return this.member(member).child !== undefined;
  }

  /** What each running member says about leader and term (members that do not answer are left out). */
  async statuses(): Promise<EtcdStatusSample[]> {
    const samples = await Promise.all(
      this.members.map(async (m, i) => {
        if (m.child === undefined) return undefined;
        m.status ??= new Etcd3({
          hosts: [m.clientUrl],
          faultHandling: { host: () => noPolicy, global: noPolicy },
          defaultCallOptions: () => ({ deadline: new Date(Date.now() + STATUS_DEADLINE_MS) }),
        });
        const s = await m.status.maintenance.status().catch(() => undefined);
        if (s === undefined) return undefined;
        return { member: i + 1, leaderId: s.leader, memberId: s.header.member_id, term: Number(s.raftTerm) };
      }),
    );
    return samples.filter((s): s is EtcdStatusSample => s !== undefined);
  }

  /** The member (1-based) that reports itself leader, with its term. */
  async leader(): Promise<{ member: number; term: number } | undefined> {
    const own = (await this.statuses()).filter((s) => s.leaderId === s.memberId && s.leaderId !== '0');
    own.sort((a, b) => b.term - a.term);
    const top = own[0];
    return top === undefined ? undefined : { member: top.member, term: top.term };
  }

  private member(member: number): Member {
    const m = this.members[member - 1];
    if (m === undefined) throw new Error(`no etcd member ${member}`);
    return m;
  }
}
