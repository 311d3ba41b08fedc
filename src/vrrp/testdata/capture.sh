#!/bin/sh
# Captures keepalived's VRRPv3 adverts (IPv4 and IPv6) between two network namespaces, then
# writes each distinct advert as a whole IP packet (`*.bin`). Needs root, keepalived, tcpdump
# and python3. Run from this directory: `sudo ./capture.sh`.
set -eu
p=el-vr$$
a=$p-a
b=$p-b
work=$(mktemp -d)
cleanup() {
	[ -f "$work/keepalived.log" ] && tail -5 "$work/keepalived.log" >&2
	[ -f "$work/started.pid" ] && kill "$(cat "$work/started.pid")" 2>/dev/null || true
	ip netns del "$a" 2>/dev/null || true
	ip netns del "$b" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

ip netns add "$a"
ip netns add "$b"
ip link add va netns "$a" type veth peer name vb netns "$b"
# Documentation MACs (RFC 7042) so the IPv6 link-local addresses are reproducible.
ip -n "$a" link set va address 00:00:5e:00:53:01
ip -n "$b" link set vb address 00:00:5e:00:53:02
ip -n "$a" addr add 192.0.2.1/24 dev va
ip -n "$b" addr add 192.0.2.2/24 dev vb
for ns in "$a" "$b"; do
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	ip -n "$ns" link set lo up
done
ip netns exec "$a" sysctl -qw net.ipv6.conf.va.accept_dad=0
ip netns exec "$b" sysctl -qw net.ipv6.conf.vb.accept_dad=0
ip -n "$a" link set va up
ip -n "$b" link set vb up

cat >"$work/keepalived.conf" <<CONF
global_defs {
    vrrp_version 3
    router_id capture-a
    vrrp_garp_master_repeat 1
}
vrrp_instance v4 {
    state MASTER
    interface va
    virtual_router_id 51
    priority 150
    advert_int 1
    virtual_ipaddress {
        198.51.100.10/24
        198.51.100.11/24
    }
}
vrrp_instance v6 {
    state MASTER
    interface va
    virtual_router_id 52
    priority 200
    advert_int 0.1
    virtual_ipaddress {
        2001:db8::10/64
    }
}
CONF

ip netns exec "$b" tcpdump -i vb -w "$work/adverts.pcap" -U 'ip proto 112 or ip6 proto 112' 2>/dev/null &
dump=$!
sleep 1
ip netns exec "$a" keepalived -n -l -P -f "$work/keepalived.conf" \
	-p "$work/keepalived.pid" -r "$work/vrrp.pid" >"$work/keepalived.log" 2>&1 &
echo $! >"$work/started.pid"
sleep 5
# A stopping master says goodbye with priority 0.
kill "$(cat "$work/started.pid")"
sleep 2
kill $dump
wait $dump 2>/dev/null || true
cp "$work/adverts.pcap" keepalived-adverts.pcap
keepalived --version 2>&1 | head -1 >keepalived-version.txt

# One file per distinct advert: `ipv4-vrid51-prio150.bin` etc. (whole IP packets, Ethernet
# header removed).
python3 - keepalived-adverts.pcap <<'PY'
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
    name = f"{family}-vrid{vrrp[1]}-prio{vrrp[2]}.bin"
    if name not in seen:
        seen.add(name)
        open(name, "wb").write(packet)
        print(name, packet.hex())
PY
