package lab

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// A Capture is a tcpdump running on the server's eth0.
type Capture struct {
	file    string
	stop    func() error
	stopped atomic.Bool
}

// A Packet is one captured IP packet, timestamped by the kernel.
type Packet struct {
	Time             time.Time
	Src, Dst         netip.Addr
	Proto            string // "tcp", "udp", "icmp", "icmp6", or the number
	SrcPort, DstPort int
	SYN, ACK, RST    bool
}

var captureCount atomic.Int64

// Capture starts tcpdump on the server's eth0 with a pcap filter and returns
// once it is capturing.
func (l *Lab) Capture(tb testing.TB, filter string) *Capture {
	tb.Helper()
	Require(tb, "tcpdump")
	file := filepath.Join(l.Dir, fmt.Sprintf("capture-%d.pcap", captureCount.Add(1)))
	ctx, cancel := context.WithCancel(context.Background())
	cmd := l.Server.Command(ctx, "tcpdump", "-i", "eth0", "-U", "-n", "--immediate-mode",
		"--time-stamp-precision=nano", "-w", file, filter)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
	cmd.WaitDelay = 5 * time.Second
	stderr, err := cmd.StderrPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		tb.Fatalf("lab: starting tcpdump: %v", err)
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		var seen []string
		for sc.Scan() {
			seen = append(seen, sc.Text())
			if strings.Contains(sc.Text(), "listening on") {
				ready <- ""
			}
		}
		ready <- strings.Join(seen, "\n")
	}()
	select {
	case msg := <-ready:
		if msg != "" {
			cancel()
			cmd.Wait()
			tb.Fatalf("lab: tcpdump exited: %s", msg)
		}
	case <-time.After(10 * time.Second):
		cancel()
		cmd.Wait()
		tb.Fatal("lab: tcpdump did not start capturing within 10s")
	}
	c := &Capture{file: file}
	c.stop = func() error {
		cancel()
		return cmd.Wait()
	}
	l.onTeardown(func() {
		if !c.stopped.Load() {
			c.stop()
		}
	})
	return c
}

// Stop ends the capture and returns its packets in capture order.
func (c *Capture) Stop(tb testing.TB) []Packet {
	tb.Helper()
	if c.stopped.Swap(true) {
		tb.Fatal("lab: capture stopped twice")
	}
	c.stop() // tcpdump exits with a signal status after SIGINT; the file is what matters
	pkts, err := ReadPcap(c.file)
	if err != nil {
		tb.Fatalf("lab: %v", err)
	}
	return pkts
}

// ReadPcap decodes the IP packets of an Ethernet pcap file.
func ReadPcap(file string) ([]Packet, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", file, err)
	}
	var pkts []Packet
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		gp := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.DecodeOptions{Lazy: true, NoCopy: true})
		p := Packet{Time: ci.Timestamp}
		switch ip := gp.NetworkLayer().(type) {
		case *layers.IPv4:
			p.Src, _ = netip.AddrFromSlice(ip.SrcIP)
			p.Dst, _ = netip.AddrFromSlice(ip.DstIP)
			p.Proto = strings.ToLower(ip.Protocol.String())
		case *layers.IPv6:
			p.Src, _ = netip.AddrFromSlice(ip.SrcIP)
			p.Dst, _ = netip.AddrFromSlice(ip.DstIP)
			p.Proto = strings.ToLower(ip.NextHeader.String())
		default:
			continue
		}
		p.Src, p.Dst = p.Src.Unmap(), p.Dst.Unmap()
		switch t := gp.TransportLayer().(type) {
		case *layers.TCP:
			p.Proto = "tcp"
			p.SrcPort, p.DstPort = int(t.SrcPort), int(t.DstPort)
			p.SYN, p.ACK, p.RST = t.SYN, t.ACK, t.RST
		case *layers.UDP:
			p.Proto = "udp"
			p.SrcPort, p.DstPort = int(t.SrcPort), int(t.DstPort)
		}
		pkts = append(pkts, p)
	}
	return pkts, nil
}
