// Package lab builds throwaway network labs for knockssh's end-to-end tests:
// a server and a client network namespace joined by a veth pair, the server
// behind an Open Sesamy firewall (the seed's portKnockListener, verbatim, or
// another rule script) and, on request, running a real OpenSSH sshd.
//
// Every lab has its own pair of namespaces, so labs run in parallel and all
// use the same documentation addresses: the server is 192.0.2.1 and
// 2001:db8::1, the client 192.0.2.2 and 2001:db8::2. No packet leaves the
// lab. Teardown is registered with testing.TB.Cleanup and runs even when the
// test fails; namespaces left behind by a killed test process are swept by
// the next New.
//
// The lab needs root, iproute2, iptables (nf_tables or legacy, with the
// recent match) and, for some features, sshd and tcpdump. When CI is set in
// the environment a missing prerequisite fails the test; otherwise it skips
// it with the reason.
//
// The lab is Linux only: its files carry the _linux suffix.
package lab
