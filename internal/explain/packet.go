package explain

import "net/netip"

// protoTCP is TCP's IP protocol number.
const protoTCP = 6

// tcpSegment returns the addresses and TCP segment of an IPv4 or IPv6
// packet that carries TCP directly.
func tcpSegment(p []byte) (src, dst netip.Addr, tcp []byte, ok bool) {
	if len(p) < 1 {
		return
	}
	switch p[0] >> 4 {
	case 4:
		ihl := int(p[0]&0x0f) * 4
		if len(p) < 20 || ihl < 20 || len(p) < ihl || p[9] != protoTCP {
			return
		}
		src = netip.AddrFrom4([4]byte(p[12:16]))
		dst = netip.AddrFrom4([4]byte(p[16:20]))
		return src, dst, p[ihl:], true
	case 6:
		if len(p) < 40 || p[6] != protoTCP {
			return
		}
		src = netip.AddrFrom16([16]byte(p[8:24]))
		dst = netip.AddrFrom16([16]byte(p[24:40]))
		return src, dst, p[40:], true
	}
	return
}

// options reports whether TCP options carry MP_CAPABLE (option 30,
// subtype 0), and their longest run of NOPs.
func options(opts []byte) (mpCapable bool, nops int) {
	run := 0
	for i := 0; i < len(opts); {
		switch opts[i] {
		case 0: // end of options
			return mpCapable, nops
		case 1:
			run++
			nops = max(nops, run)
			i++
			continue
		}
		run = 0
		if i+1 >= len(opts) || opts[i+1] < 2 {
			return mpCapable, nops
		}
		l := int(opts[i+1])
		if opts[i] == 30 && l >= 3 && i+2 < len(opts) && opts[i+2]>>4 == 0 {
			mpCapable = true
		}
		i += l
	}
	return mpCapable, nops
}
