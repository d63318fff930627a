package knocker

// The parts of the Windows senders (bind_windows.go, syn_windows.go) that
// need no Windows system call, here so that they are tested on every
// platform: the byte layout of socket option values and the meaning of
// Winsock's answers.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
)

// Winsock's numbers (ws2ipdef.h, mstcpip.h, winerror.h), which
// golang.org/x/sys/windows does not all define.
const (
	wsIPUnicastIf   = 31 // IP_UNICAST_IF, level IPPROTO_IP
	wsIPv6UnicastIf = 31 // IPV6_UNICAST_IF, level IPPROTO_IPV6
	// wsFIONBIO is ioctlsocket's FIONBIO, which WSAIoctl takes too:
	// _IOW('f', 126, u_long).
	wsFIONBIO = 0x8004667e
	// wsSIOTCPInitialRTO is SIO_TCP_INITIAL_RTO, _WSAIOW(IOC_VENDOR, 17).
	wsSIOTCPInitialRTO = 0x80000000 | 0x18000000 | 17
	// TCP_INITIAL_RTO_UNSPECIFIED_RTT: the system's (or the
	// administrator's) initial round trip time.
	wsRTOUnspecifiedRTT = 0xffff
	// TCP_INITIAL_RTO_NO_SYN_RETRANSMISSIONS, ((UCHAR)-2): the SYN is
	// sent once and never again.
	wsRTONoSYNRetransmissions = 0xfe

	wsaEACCES        = syscall.Errno(10013)
	wsaEINVAL        = syscall.Errno(10022)
	wsaEWOULDBLOCK   = syscall.Errno(10035)
	wsaEAFNOSUPPORT  = syscall.Errno(10047)
	wsaEADDRINUSE    = syscall.Errno(10048)
	wsaEADDRNOTAVAIL = syscall.Errno(10049)
	wsaENETDOWN      = syscall.Errno(10050)
	wsaENETUNREACH   = syscall.Errno(10051)
	wsaENOBUFS       = syscall.Errno(10055)
	wsaEHOSTUNREACH  = syscall.Errno(10065)
)

// unicastIfValue is the 4-byte value of IP_UNICAST_IF (ipv6 false) or
// IPV6_UNICAST_IF (ipv6 true) for interface index: Microsoft documents
// the IPv4 option's index in network byte order and the IPv6 option's in
// host byte order.
func unicastIfValue(index uint32, ipv6 bool) [4]byte {
	var b [4]byte
	if ipv6 {
		binary.NativeEndian.PutUint32(b[:], index)
	} else {
		binary.BigEndian.PutUint32(b[:], index)
	}
	return b
}

// initialRTOValue is the TCP_INITIAL_RTO_PARAMETERS that SIO_TCP_INITIAL_RTO
// takes to send a SYN once and never retransmit it: { USHORT Rtt =
// unspecified; UCHAR MaxSynRetransmissions = none; } and the padding byte
// that makes the C struct 4 bytes long.
func initialRTOValue() [4]byte {
	var b [4]byte
	binary.NativeEndian.PutUint16(b[:2], wsRTOUnspecifiedRTT)
	b[2] = wsRTONoSYNRetransmissions
	return b
}

// synSupported says whether Windows major.build can send TCP knocks:
// TCP_INITIAL_RTO_NO_SYN_RETRANSMISSIONS needs Windows 10 1709 (build
// 16299) or later. Without it Windows sends a knock's SYN again after its
// retransmission timeout (InitialRto: a second or a few, and an
// administrator can lower it), even when a RST answered it, and each SYN
// sent again is one more knock on the server.
func synSupported(major, build uint32) error {
	if major > 10 || major == 10 && build >= 16299 {
		return nil
	}
	return fmt.Errorf("tcp knocks need Windows 10 version 1709 or later (this is %d, build %d): older versions cannot keep a knock's SYN from being sent again, which the server would count as another knock; use udp knocks", major, build)
}

// connectResult judges what a non-blocking connect returned: the knock's
// SYN is on its way only when Winsock answered WSAEWOULDBLOCK (or, never
// seen in practice, connected at once). Anything else means no SYN left,
// and the error says why.
func connectResult(err error) error {
	var errno syscall.Errno
	switch {
	case err == nil, errors.Is(err, wsaEWOULDBLOCK):
		return nil
	case !errors.As(err, &errno):
		return fmt.Errorf("connect: %w", err)
	}
	why := ""
	switch errno {
	case wsaEACCES:
		why = "blocked by this machine's firewall or a policy"
	case wsaEADDRNOTAVAIL:
		why = "the source address is not one of this machine's"
	case wsaEADDRINUSE, wsaENOBUFS:
		why = "no local port or socket buffer left"
	case wsaENETUNREACH, wsaENETDOWN:
		why = "no route to the network"
	case wsaEHOSTUNREACH:
		why = "no route to the host"
	case wsaEAFNOSUPPORT:
		why = "this address family is not available"
	case wsaEINVAL:
		why = "invalid address"
	default:
		return fmt.Errorf("connect: %w", err)
	}
	return fmt.Errorf("connect: %s: %w", why, err)
}
