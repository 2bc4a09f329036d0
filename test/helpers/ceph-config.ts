import path from 'node:path';

export interface CephLayout {
  dir: string;
  fsid: string;
  monPort: number;
  rgwPort: number;
}

/**
 * A one-node Ceph cluster for tests: one monitor speaking only msgr v1 on its own loopback port, no
 * cephx, pools of size 1 with 8 PGs, one OSD keeping objects in RAM (memstore), and a radosgw.
 * Every path lives below `dir`, so nothing touches /etc/ceph or /var/lib/ceph.
 *
 * tcp_nodelay: beast writes a GET's headers and body as two segments, and with Nagle on the body
 * waited for the client's delayed ACK on a kept-alive connection: every GetObject took 45 ms
 * instead of 5, which made any read-heavy path (a collection, a tag list) look ten times slower
 * than on S3 itself.
 */
export function cephConfig({ dir, fsid, monPort, rgwPort }: CephLayout): string {
  const p = (...parts: string[]) => path.join(dir, ...parts);
  return `[global]
fsid = ${fsid}
mon host = v1:127.0.0.1:${monPort}
mon initial members = a
public addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
ms bind msgr2 = false
ms bind msgr1 = true
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
osd objectstore = memstore
# The OSD would otherwise place itself in CRUSH with mon commands at start, which Pacific can send
# before its monitor client has the cluster's fsid ("wrong fsid", and the OSD never boots).
osd crush update on start = false
osd class update on start = false
memstore device bytes = 8589934592
run dir = ${p('run')}
admin socket = ${p('run')}/$name.asok
log file = ${p('log')}/$name.log
pid file = ${p('run')}/$name.pid
mon data = ${p('mon')}
osd data = ${p('osd')}
keyring = ${p('keyring')}
rgw data = ${p('rgw')}
rgw gc obj min wait = 0
rgw gc processor period = 10

[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:${rgwPort} tcp_nodelay=1
rgw dns name = 127.0.0.1
`;
}
