#!/bin/sh
# Starts a single-node Ceph cluster below /run/ceph-demo (the same shape as test/helpers/rgw.ts:
# msgr v1 monitor on loopback, no cephx, pools of size 1, a memstore OSD) and a radosgw on :7480,
# then creates the S3 user RGW_ACCESS_KEY/RGW_SECRET_KEY and the bucket RGW_BUCKET.
set -eu
: "${RGW_ACCESS_KEY:?}" "${RGW_SECRET_KEY:?}" "${RGW_BUCKET:=registry}"
dir=/run/ceph-demo
rm -rf "$dir" && mkdir -p "$dir/mon" "$dir/osd" "$dir/run" "$dir/log" "$dir/rgw"
fsid=$(cat /proc/sys/kernel/random/uuid)
cat > "$dir/ceph.conf" <<CONF
[global]
fsid = $fsid
mon host = v1:127.0.0.1:6789
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
osd crush update on start = false
osd class update on start = false
memstore device bytes = 4294967296
run dir = $dir/run
admin socket = $dir/run/\$name.asok
log file = $dir/log/\$name.log
pid file = $dir/run/\$name.pid
mon data = $dir/mon
osd data = $dir/osd
keyring = $dir/keyring
rgw data = $dir/rgw

[client.rgw]
rgw frontends = beast endpoint=0.0.0.0:7480
CONF
c="-c $dir/ceph.conf"
# As PID 1 the shell gets no default signal handling: pass docker stop on to the daemons.
trap 'trap - TERM INT; kill 0; exit 0' TERM INT
monmaptool --create --addv a "[v1:127.0.0.1:6789]" --fsid "$fsid" "$dir/monmap" >/dev/null
ceph-authtool --create-keyring "$dir/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-mon $c --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/keyring"
ceph-mon $c -i a -f &
# A monitor that has just started may not answer yet: retry for up to a minute.
tries=0
osd_uuid=$(cat /proc/sys/kernel/random/uuid)
until osd=$(ceph $c --connect-timeout 5 osd create "$osd_uuid" 2>/dev/null); do
  tries=$((tries + 1)); [ "$tries" -lt 60 ] || { echo "ceph-mon did not answer" >&2; exit 1; }; sleep 1
done
ceph $c osd crush add "osd.$osd" 1.0 root=default host=localhost
ceph-osd $c -i "$osd" --mkfs --osd-uuid "$osd_uuid"
ceph-osd $c -i "$osd" -f &
radosgw $c -n client.rgw -f &
rgw=$!
tries=0
until radosgw-admin $c user create --uid berth --display-name berth \
    --access-key "$RGW_ACCESS_KEY" --secret "$RGW_SECRET_KEY" >/dev/null 2>&1; do
  tries=$((tries + 1)); [ "$tries" -lt 60 ] || { echo "radosgw did not start" >&2; exit 1; }; sleep 1
done
tries=0
until s3cmd --no-ssl --host=127.0.0.1:7480 --host-bucket=127.0.0.1:7480 \
    --access_key="$RGW_ACCESS_KEY" --secret_key="$RGW_SECRET_KEY" mb "s3://$RGW_BUCKET" >/dev/null 2>&1; do
  tries=$((tries + 1)); [ "$tries" -lt 60 ] || { echo "could not create bucket $RGW_BUCKET" >&2; exit 1; }; sleep 1
done
echo "rgw ready: bucket $RGW_BUCKET on :7480"
# The container lives as long as radosgw does.
wait "$rgw"
