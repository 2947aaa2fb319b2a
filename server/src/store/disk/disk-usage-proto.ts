// The disk level on the wire (store heartbeats to PD, Admin status): one mapping for both.
import { metapb } from '@flotilla/proto';
import type { DiskUsage } from '../../storage/disk-space.js';

const TO_PROTO: Readonly<Record<DiskUsage, metapb.DiskUsage>> = {
  normal: metapb.DiskUsage.NORMAL,
  almostFull: metapb.DiskUsage.ALMOST_FULL,
  alreadyFull: metapb.DiskUsage.ALREADY_FULL,
};

export function diskUsageToProto(usage: DiskUsage): metapb.DiskUsage {
  return TO_PROTO[usage];
}
