#!/bin/sh
# Captures FRR vrrpd's VRRPv3 adverts (one VRID, IPv4 and IPv6) between two network namespaces,
# then writes each distinct advert as a whole IP packet (`frr-*.bin`). Needs root, FRR (zebra,
# vrrpd), tcpdump and python3. Run from this directory: `sudo ./capture-frr.sh`.
set -eu
p=el-vr$$
a=$p-a
b=$p-b
ps=$p-frr
work=$(mktemp -d)
chmod 755 "$work"
cleanup() {
	for pid in "$work"/*.started; do
		[ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null || true
	done
	sleep 0.5
	[ -f "$work/vrrpd.log" ] && tail -5 "$work/vrrpd.log" >&2
	ip netns del "$a" 2>/dev/null || true
	ip netns del "$b" 2>/dev/null || true
	rm -rf "$work" "/var/run/frr/$ps"
}
trap cleanup EXIT INT TERM

ip netns add "$a"
ip netns add "$b"
ip link add va netns "$a" type veth peer name vb netns "$b"
ip -n "$a" link set va address 00:00:5e:00:53:01
ip -n "$b" link set vb address 00:00:5e:00:53:02
ip -n "$a" addr add 192.0.2.1/24 dev va
ip -n "$b" addr add 192.0.2.2/24 dev vb
for ns in "$a" "$b"; do
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	ip -n "$ns" link set lo up
done
ip -n "$a" link set va up
ip -n "$b" link set vb up
# vrrpd sends from, and moves, the RFC's virtual MAC on a macvlan per family (VRID 51 = 0x33).
ip -n "$a" link add vrrp4-va link va type macvlan mode bridge
ip -n "$a" link set vrrp4-va address 00:00:5e:00:01:33
ip -n "$a" addr add 198.51.100.10/24 dev vrrp4-va
ip -n "$a" link add vrrp6-va link va type macvlan mode bridge
ip -n "$a" link set vrrp6-va address 00:00:5e:00:02:33
ip -n "$a" addr add 2001:db8::10/64 dev vrrp6-va nodad
ip -n "$a" link set vrrp4-va up
ip -n "$a" link set vrrp6-va up

mkdir -p "/var/run/frr/$ps"
chown frr:frr "/var/run/frr/$ps" 2>/dev/null || true
cat >"$work/vrrpd.conf" <<CONF
interface va
 vrrp 51 version 3
 vrrp 51 priority 150
 vrrp 51 advertisement-interval 100
 vrrp 51 ip 198.51.100.10
 vrrp 51 ipv6 2001:db8::10
CONF
: >"$work/zebra.conf"
chmod 644 "$work"/*.conf

ip netns exec "$b" tcpdump -i vb -w "$work/adverts.pcap" -U 'ip proto 112 or ip6 proto 112' 2>/dev/null &
echo $! >"$work/tcpdump.started"
sleep 1
ip netns exec "$a" /usr/lib/frr/zebra -N "$ps" -f "$work/zebra.conf" -P 0 -i "/var/run/frr/$ps/zebra.pid" \
	>"$work/zebra.log" 2>&1 &
echo $! >"$work/zebra.started"
i=0
while [ ! -S "/var/run/frr/$ps/zserv.api" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
ip netns exec "$a" /usr/lib/frr/vrrpd -N "$ps" -f "$work/vrrpd.conf" -P 0 -i "/var/run/frr/$ps/vrrpd.pid" \
	>"$work/vrrpd.log" 2>&1 &
echo $! >"$work/vrrpd.started"
sleep 5
# Does a stopping vrrpd say goodbye with priority 0? The capture shows.
kill "$(cat "$work/vrrpd.started")"
rm "$work/vrrpd.started"
sleep 2
kill "$(cat "$work/tcpdump.started")"
rm "$work/tcpdump.started"
sleep 0.5
cp "$work/adverts.pcap" frr-adverts.pcap
/usr/lib/frr/vrrpd --version 2>&1 | head -1 >frr-version.txt

python3 - frr-adverts.pcap <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
assert data[:4] == b"\xd4\xc3\xb2\xa1", "little-endian pcap expected"
offset, seen = 24, set()
while offset < len(data):
    _, _, caplen, _ = struct.unpack_from("<IIII", data, offset)
    frame = data[offset + 16 : offset + 16 + caplen]
    offset += 16 + caplen
    ethertype = frame[12:14]
    packet = frame[14:]
    if ethertype == b"\x08\x00":
        family, vrrp = "ipv4", packet[(packet[0] & 15) * 4 :]
    elif ethertype == b"\x86\xdd":
        family, vrrp = "ipv6", packet[40:]
    else:
        continue
    name = f"frr-{family}-vrid{vrrp[1]}-prio{vrrp[2]}.bin"
    if name not in seen:
        seen.add(name)
        open(name, "wb").write(packet)
        print(name, frame[:14].hex(), packet.hex())
PY
