// etcd as a KvTarget through the etcd3 npm client: a put is a Put, a linearizable get the
// default (quorum) Range, a stale get a serializable Range (served by the member asked).
import { Etcd3 } from 'etcd3';
import { UnsupportedReadModeError } from './kv-target.js';
import type { KvTarget } from './kv-target.js';

export interface EtcdTargetOptions {
  readonly name: string;
  readonly clientUrls: readonly string[];
  /** Deadline of each call; undefined keeps the client's default (none). */
  readonly callDeadlineMs?: number;
}

export function etcdTarget(options: EtcdTargetOptions): KvTarget {
  const deadlineMs = options.callDeadlineMs;
  const client = new Etcd3({
    hosts: [...options.clientUrls],
    ...(deadlineMs === undefined
      ? {}
      : {
          defaultCallOptions: (context) =>
            context.isStream ? {} : { deadline: new Date(Date.now() + deadlineMs) },
        }),
  });
  return {
    name: options.name,
    readModes: ['linearizable', 'stale'],
    put: async (key, value) => {
      await client.put(key).value(value).exec();
    },
    get: async (key, mode) => {
      if (mode !== 'linearizable' && mode !== 'stale') throw new UnsupportedReadModeError('etcd', mode);
      const value = await client
        .get(key)
        .serializable(mode === 'stale')
        .buffer();
      return value ?? undefined;
    },
    close: async () => client.close(),
  };
}
