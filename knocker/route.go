package knocker

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"strconv"
	"strings"
)

// routesVia reports whether a route of Linux's main table, as
// /proc/net/route (IPv4) or /proc/net/ipv6_route (IPv6) lists them, sends
// dst by device dev: a route on dev whose prefix holds dst.
func routesVia(proc []byte, dev string, dst netip.Addr) bool {
	sc := bufio.NewScanner(bytes.NewReader(proc))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		var p netip.Prefix
		var iface string
		switch {
		case dst.Is4() && len(f) >= 8 && f[0] != "Iface":
			// Iface Destination Gateway Flags RefCnt Use Metric Mask ...,
			// addresses as little-endian hex.
			d, err1 := strconv.ParseUint(f[1], 16, 32)
			m, err2 := strconv.ParseUint(f[7], 16, 32)
			if err1 != nil || err2 != nil {
				continue
			}
			var db, mb [4]byte
			binary.LittleEndian.PutUint32(db[:], uint32(d))
			binary.LittleEndian.PutUint32(mb[:], uint32(m))
			bits := 0
			for _, b := range mb {
				for ; b&0x80 != 0; b <<= 1 {
					bits++
				}
			}
			iface, p = f[0], netip.PrefixFrom(netip.AddrFrom4(db), bits)
		case dst.Is6() && len(f) == 10:
			// dst dst_len src src_len next_hop metric refcnt use flags dev
			b, err := hex.DecodeString(f[0])
			n, err2 := strconv.ParseUint(f[1], 16, 8)
			if err != nil || err2 != nil || len(b) != 16 {
				continue
			}
			iface, p = f[9], netip.PrefixFrom(netip.AddrFrom16([16]byte(b)), int(n))
		default:
			continue
		}
		if iface == dev && p.IsValid() && p.Masked().Contains(dst) {
			return true
		}
	}
	return false
}
