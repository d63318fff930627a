package knocker

import "golang.org/x/sys/unix"

// dropAll is a classic BPF program of one instruction, "return 0": a
// socket filter that drops every packet meant for the socket.
var dropAll = []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: 0}}

// muteReplies makes the kernel drop every packet that arrives for the knock
// socket fd, so that a server's SYN-ACK, which on a fast link can arrive
// before the socket is closed, never completes a connection: a knock SYN
// that happens to pass the rules (one of a clear's, meeting stale hits)
// would otherwise hand the server's sshd a connection it did not ask for.
// Socket filters need no privileges.
func muteReplies(fd int) error {
	return unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: uint16(len(dropAll)), Filter: &dropAll[0]})
}
