package firewall

// Normalize is normalize, for the lab tests of package firewall_test: a
// rule's arguments as knockssh writes them and as iptables-save prints
// them compare equal.
var Normalize = normalize
