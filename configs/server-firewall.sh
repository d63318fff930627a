#!/usr/bin/env bash
# Example Open Sesamy server firewall: sshd on port 443 (knock port = secure
# port), sequence 1234, window 3 s. Run as root on the server, with
# IPTABLES=iptables and again with IPTABLES=ip6tables. The listener lines are
# the seed's portKnockListener INPUT, hardened, as knockssh's firewall package
# generates them (internal/firewall/example_test.go keeps them in sync): only
# the true sequence opens, and a source (an IPv4 address, an IPv6 /64) with 5
# failed patterns in a day is dropped; configs/server-rules-seed.restore has
# the seed's rules verbatim. Change the sequence before use: the digits are
# the --hitcount values below.
#
# The conntrack rule matters: without it every packet of an open SSH session
# would run through the knock chains. Load this from a console, not over the
# SSH session it protects.
set -euo pipefail
IPTABLES=${IPTABLES:-iptables}
ICMP=icmp
[ "$IPTABLES" = ip6tables ] && ICMP=ipv6-icmp

$IPTABLES -P INPUT DROP
$IPTABLES -A INPUT -i lo -j ACCEPT
$IPTABLES -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
$IPTABLES -A INPUT -p "$ICMP" -j ACCEPT

# --- listener: generated, sequence 1234, window 3, knock 443, secure 443 ---
case $IPTABLES in *ip6tables*) KNOCKSSH_FAILS="--name fails64_INPUT --mask ffff:ffff:ffff:ffff::" ;; *) KNOCKSSH_FAILS="--name fails_INPUT" ;; esac
$IPTABLES -N CHECKKNOCKS_INPUT
$IPTABLES -N RESETKNOCKS_INPUT
$IPTABLES -N FAILKNOCKS_INPUT
$IPTABLES -A INPUT -p udp --dport 443 -m recent --rcheck --seconds 86400 --hitcount 5 $KNOCKSSH_FAILS -j DROP
$IPTABLES -A INPUT -p tcp --dport 443 -m recent --rcheck --seconds 86400 --hitcount 5 $KNOCKSSH_FAILS -j DROP
$IPTABLES -A INPUT -p tcp --dport 443 -j CHECKKNOCKS_INPUT
$IPTABLES -A INPUT -m recent --rcheck --seconds 12 --hitcount 11 --name knocks_INPUT -j RESETKNOCKS_INPUT
$IPTABLES -A INPUT -m recent --rcheck --hitcount 21 --name knocks_INPUT -j RESETKNOCKS_INPUT
$IPTABLES -A INPUT -p udp --dport 443 -m recent --set --name knocks_INPUT -j DROP
$IPTABLES -A INPUT -p tcp --syn --dport 443 -m recent --set --name knocks_INPUT -j DROP
$IPTABLES -A RESETKNOCKS_INPUT -m recent --remove --name knocks_INPUT -j DROP
$IPTABLES -A CHECKKNOCKS_INPUT -m recent ! --rcheck --seconds 12 --hitcount 10 --name knocks_INPUT -j RETURN
$IPTABLES -A CHECKKNOCKS_INPUT -m recent --rcheck --seconds 12 --hitcount 11 --name knocks_INPUT -j FAILKNOCKS_INPUT
$IPTABLES -A CHECKKNOCKS_INPUT -p tcp --dport 443 -m recent ! --rcheck --seconds 3 --hitcount 4 --name knocks_INPUT -j FAILKNOCKS_INPUT
$IPTABLES -A CHECKKNOCKS_INPUT -p tcp --dport 443 -m recent --rcheck --seconds 3 --hitcount 5 --name knocks_INPUT -j FAILKNOCKS_INPUT
$IPTABLES -A CHECKKNOCKS_INPUT -p tcp --dport 443 -m recent ! --rcheck --seconds 6 --hitcount 7 --name knocks_INPUT -j FAILKNOCKS_INPUT
$IPTABLES -A CHECKKNOCKS_INPUT -p tcp --dport 443 -m recent --rcheck --seconds 6 --hitcount 8 --name knocks_INPUT -j FAILKNOCKS_INPUT
$IPTABLES -A CHECKKNOCKS_INPUT -p tcp --dport 443 -m recent ! --rcheck --seconds 9 --hitcount 9 --name knocks_INPUT -j FAILKNOCKS_INPUT
$IPTABLES -A CHECKKNOCKS_INPUT -p tcp --dport 443 -m recent --rcheck --seconds 9 --hitcount 10 --name knocks_INPUT -j FAILKNOCKS_INPUT
$IPTABLES -A CHECKKNOCKS_INPUT -m recent --remove --name knocks_INPUT -j ACCEPT
$IPTABLES -A FAILKNOCKS_INPUT -m recent --set $KNOCKSSH_FAILS -j RESETKNOCKS_INPUT
# --- end of listener ---
