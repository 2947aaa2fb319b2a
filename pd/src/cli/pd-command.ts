// `flotilla pd`: one Placement Driver member process. Flags:
//   --member-id N            this member's id (positive integer; also its Raft peer id)
//   --data-dir DIR           where its LevelDB meta store lives
//   --initial-cluster SPEC   every member, "1=127.0.0.1:2379,2=127.0.0.1:2380,3=..." (same on all)
//   --listen HOST:PORT       address to bind (default: this member's address in the spec)
//   scheduling (schedule-config.ts), e.g. --max-replicas 3 --max-store-down-time-ms 300000
//     --store-disconnected-time-ms --replica-schedule-limit --leader-schedule-limit
//     --region-schedule-limit --operator-timeout-ms --step-resend-interval-ms
//     --balance-interval-ms --balance-tolerance --operator-history-max
//     --hot-region-schedule-limit --hot-region-keys-per-second-min
//     --hot-region-tolerance-percent --hot-region-cooldown-ms --hot-region-report-max-age-ms
// Prints `READY pd=N address=A` on stdout once serving. SIGTERM or SIGINT stops it
// (exit 0); a second signal exits at once. Exit codes: 0 clean, 1 start failure, 2 bad flags.
import { parseArgs } from 'node:util';
import { ClusterSpecError, parseClusterSpec } from '../../../server/src/cli/cluster-spec.js';
import { PdMember } from '../pd-member.js';
import type { ScheduleConfig } from '../schedule/schedule-config.js';
import {
  SCHEDULE_CONFIG_DEFAULTS,
  ScheduleConfigError,
  resolveScheduleConfig,
} from '../schedule/schedule-config.js';

/** --max-store-down-time-ms for maxStoreDownTimeMs. */
function scheduleFlag(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
const SCHEDULE_KEYS = Object.keys(SCHEDULE_CONFIG_DEFAULTS) as Array<keyof ScheduleConfig>;

export const PD_USAGE =
  'usage: flotilla pd --member-id N --data-dir DIR --initial-cluster 1=HOST:PORT,2=...,3=... [--listen HOST:PORT]\n' +
  '       [scheduling: ' +
  Object.keys(SCHEDULE_CONFIG_DEFAULTS)
    .map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} N`)
    .join(' ') +
  ']';

export interface PdFlags {
  readonly memberId: number;
  readonly dataDir: string;
  readonly initialCluster: Map<number, string>;
  readonly listen: string;
  readonly schedule: ScheduleConfig;
}

export class PdFlagError extends Error {
  readonly code = 'PD_FLAGS';
}

export function parsePdFlags(argv: readonly string[]): PdFlags | 'help' {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        'member-id': { type: 'string' },
        'data-dir': { type: 'string' },
        'initial-cluster': { type: 'string' },
        listen: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        ...Object.fromEntries(SCHEDULE_KEYS.map((k) => [scheduleFlag(k), { type: 'string' as const }])),
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new PdFlagError(err instanceof Error ? err.message : String(err));
  }
  if (values['help'] === true) return 'help';
  const memberId = Number(values['member-id']);
  if (!Number.isSafeInteger(memberId) || memberId < 1)
    throw new PdFlagError('--member-id must be a positive integer');
  const dataDir = values['data-dir'];
  if (typeof dataDir !== 'string' || dataDir.length === 0) throw new PdFlagError('--data-dir is required');
  const spec = values['initial-cluster'];
  if (typeof spec !== 'string') throw new PdFlagError('--initial-cluster is required');
  let initialCluster: Map<number, string>;
  try {
    initialCluster = parseClusterSpec(spec);
  } catch (err) {
    if (!(err instanceof ClusterSpecError)) throw err;
    throw new PdFlagError(`--initial-cluster: ${err.message}`);
  }
  const own = initialCluster.get(memberId);
  if (own === undefined) throw new PdFlagError(`--member-id ${memberId} is not in --initial-cluster`);
  const listen = typeof values['listen'] === 'string' ? values['listen'] : own;
  const schedule: Partial<Record<keyof ScheduleConfig, number>> = {};
  for (const key of SCHEDULE_KEYS) {
    const raw = values[scheduleFlag(key)];
    if (typeof raw !== 'string') continue;
    if (!/^\d+$/.test(raw)) throw new PdFlagError(`--${scheduleFlag(key)} must be a non-negative integer`);
    schedule[key] = Number(raw);
  }
  try {
    return { memberId, dataDir, initialCluster, listen, schedule: resolveScheduleConfig(schedule) };
  } catch (err) {
    if (err instanceof ScheduleConfigError) throw new PdFlagError(err.message);
    throw err;
  }
}

export async function runPd(argv: readonly string[]): Promise<void> {
  let flags: PdFlags | 'help';
  try {
    flags = parsePdFlags(argv);
  } catch (err) {
    if (!(err instanceof PdFlagError)) throw err;
    console.error(`flotilla pd: ${err.message}`);
    console.error(PD_USAGE);
    process.exit(2);
  }
  if (flags === 'help') {
    console.log(PD_USAGE);
    return;
  }
  let member: PdMember;
  try {
    member = await PdMember.start({
      memberId: flags.memberId,
      listenAddress: flags.listen,
      dataDir: flags.dataDir,
      initialCluster: flags.initialCluster,
      schedule: flags.schedule,
      log: (line) => console.error(`pd ${flags.memberId}: ${line}`),
    });
  } catch (err) {
    console.error(`pd ${flags.memberId}: cannot start: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
  console.log(`READY pd=${flags.memberId} address=${member.address}`);
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) process.exit(1);
    stopping = true;
    console.error(`pd ${flags.memberId}: ${signal}, stopping`);
    member.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`pd ${flags.memberId}: stop failed: ${String(err)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
