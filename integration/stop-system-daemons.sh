#!/usr/bin/env bash
# Stops and disables the system-wide FRR, BIRD, GoBGP and keepalived services that the Debian
# packages may have started, so they do not interfere with the lab's own route servers and VRRP
# peers (which run in namespaces with their own pathspaces, sockets and pid files). Idempotent.
#
# Never by process name: the Debian init script for bird stops every process called "bird",
# including other labs' route servers. Without systemd we stop the services by their pid files.
set -u
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    for svc in frr bird gobgpd keepalived; do
        systemctl disable --now "$svc" >/dev/null 2>&1 || true
    done
    exit 0
fi
# watchfrr first: it would restart the others.
for pidfile in /run/frr/watchfrr.pid /run/frr/zebra.pid /run/frr/bgpd.pid /run/frr/staticd.pid \
    /run/frr/mgmtd.pid /run/bird/bird.pid /run/keepalived.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile" 2>/dev/null || true)
    case "$pid" in '' | *[!0-9]*) continue ;; esac
    kill -TERM "$pid" 2>/dev/null || true
done
for svc in frr bird keepalived; do
    update-rc.d "$svc" disable >/dev/null 2>&1 || true
done
