package cli

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/knockssh/knockssh/internal/firewall"
	"github.com/spf13/pflag"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// notOutgoing is a classic BPF program that drops the packets this host
// sends (skb->pkt_type PACKET_OUTGOING), which an AF_PACKET socket on all
// interfaces sees too: on the loopback each packet would count twice.
var notOutgoing = []bpf.Instruction{
	bpf.LoadExtension{Num: bpf.ExtType},
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.PACKET_OUTGOING, SkipTrue: 1},
	bpf.RetConstant{Val: 0x40000},
	bpf.RetConstant{Val: 0},
}

func runWatch(ctx context.Context, o *options, fs *pflag.FlagSet, s stdio) int {
	spec, known, err := knownSpec(o, fs, s.err)
	if err != nil {
		printErr(s.err, err)
		return exitUsage
	}
	count, duration := o.count, o.duration
	if count < 0 || duration < 0 {
		fmt.Fprintln(s.err, "knockssh: --count and --duration must not be negative")
		return exitUsage
	}
	hz := 250
	if c, err := firewall.ReadKernelClock(); err == nil {
		hz = c.HZ
	} else if o.verbose {
		fmt.Fprintf(s.err, "knockssh: %v; assuming HZ=250\n", err)
	}
	w, err := newWatcher(spec, known, hz, s.out)
	if err != nil {
		printErr(s.err, err)
		return exitUsage
	}
	iface := o.iface
	if iface == "any" {
		iface = ""
	}
	tp, err := afpacket.NewTPacket(afpacket.OptInterface(iface), afpacket.SocketDgram,
		afpacket.OptFrameSize(4096), afpacket.OptBlockSize(4096*16), afpacket.OptNumBlocks(4),
		afpacket.OptBlockTimeout(5*time.Millisecond), afpacket.OptPollTimeout(50*time.Millisecond))
	if err != nil {
		if errors.Is(err, os.ErrPermission) || errors.Is(err, unix.EPERM) {
			fmt.Fprintf(s.err, "knockssh: --watch needs root (CAP_NET_RAW): %v\n", err)
		} else {
			fmt.Fprintf(s.err, "knockssh: capturing on %s: %v\n", orAny(iface), err)
		}
		return exitFail
	}
	defer tp.Close()
	raw, err := bpf.Assemble(notOutgoing)
	if err == nil {
		err = tp.SetBPF(raw)
	}
	if err != nil {
		fmt.Fprintf(s.err, "knockssh: setting the capture filter: %v\n", err)
		return exitFail
	}
	what := fmt.Sprintf("UDP and TCP SYN to port %d", spec.KnockPort)
	if spec.SecurePort != spec.KnockPort && !spec.DNAT {
		what += fmt.Sprintf(", TCP SYN to port %d", spec.SecurePort)
	}
	fmt.Fprintf(s.err, "knockssh: watching %s on %s (HZ=%d); Ctrl-C to stop\n", what, orAny(iface), hz)
	var deadline time.Time
	if duration > 0 {
		deadline = time.Now().Add(duration)
	}
	done := func() bool { return count > 0 && w.lines >= count }
	for !done() {
		if ctx.Err() != nil || !deadline.IsZero() && time.Now().After(deadline) {
			break
		}
		data, ci, err := tp.ReadPacketData()
		if err != nil {
			if errors.Is(err, afpacket.ErrTimeout) {
				w.flush(time.Now(), false)
				continue
			}
			fmt.Fprintf(s.err, "knockssh: capture: %v\n", err)
			return exitFail
		}
		src, proto, dport, syn, ok := decodeIP(data)
		if ok {
			w.packet(ci.Timestamp, src, proto, dport, syn)
		}
		w.flush(time.Now(), false)
	}
	if !done() {
		w.flush(time.Now(), true)
	}
	return exitOK
}

func orAny(iface string) string {
	if iface == "" {
		return "every interface"
	}
	return iface
}

// decodeIP decodes an IP packet (the link layer stripped) into what the
// watcher needs.
func decodeIP(data []byte) (src netip.Addr, proto firewall.Proto, dport int, syn, ok bool) {
	if len(data) == 0 {
		return
	}
	first := layers.LayerTypeIPv4
	if data[0]>>4 == 6 {
		first = layers.LayerTypeIPv6
	}
	p := gopacket.NewPacket(data, first, gopacket.DecodeOptions{Lazy: true, NoCopy: true})
	switch ip := p.NetworkLayer().(type) {
	case *layers.IPv4:
		src, _ = netip.AddrFromSlice(ip.SrcIP)
	case *layers.IPv6:
		src, _ = netip.AddrFromSlice(ip.SrcIP)
	default:
		return
	}
	src = src.Unmap()
	switch t := p.TransportLayer().(type) {
	case *layers.UDP:
		return src, firewall.UDP, int(t.DstPort), false, true
	case *layers.TCP:
		return src, firewall.TCP, int(t.DstPort), t.SYN && !t.ACK, true
	}
	return
}
