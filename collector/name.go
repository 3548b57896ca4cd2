package collector

import (
	"strings"

	"github.com/multipath-go/mptcp/counters"
)

// MetricName returns the name of the metric that exports the MPTcpExt
// counter name (as package counters and /proc/net/netstat name it, without
// nstat's "MPTcpExt" prefix): "mptcp_ext_", the name in snake_case, and
// "_total" for a counter, as Prometheus's naming rules want them
// (MPCapableSYNTX gives mptcp_ext_mp_capable_syntx_total, the gauge
// MPCurrEstab mptcp_ext_mp_curr_estab). It returns false for a name that
// a metric name cannot hold: one with characters other than ASCII
// letters, digits and underscores, or underscores alone. A name unknown to package counters is
// a counter.
//
// The rule, which a newer kernel's names follow too: an underscore
// before each capitalised word (Join in MPJoin), before the last capital
// of a run of capitals followed by lower case letters (MPTCPRetrans gives
// mptcp_retrans), and after a digit followed by a capital (MD5Sig gives
// md5_sig); a lone capital stays with the word after it (HMac gives hmac);
// then all in lower case. A run of capitals is one word (SYNACKRX gives
// synackrx): splitting it would need a dictionary of the kernel's
// abbreviations, which names to come may not follow. The name depends on
// the kernel's name alone, so it does not change from scrape to scrape or
// from kernel to kernel; the metric's HELP text names the kernel's
// counter.
func MetricName(name string) (string, bool) {
	snake := snakeCase(name)
	if !validName(name) || snake == "" {
		return "", false
	}
	metric := "mptcp_ext_" + snake
	if d, ok := counters.Describe(name); !ok || d.Kind != counters.KindGauge {
		metric += "_total"
	}
	return metric, true
}

// snakeCase converts a kernel counter name of validName's characters to
// snake_case, by the rule MetricName documents. Underscores of the name
// are kept, one at a time, and none starts or ends the result.
func snakeCase(name string) string {
	var b strings.Builder
	b.Grow(len(name) + 8)
	word := 0 // bytes of the current word written so far
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '_' {
			word = 0
			continue
		}
		if word > 0 && isUpper(c) {
			prev := name[i-1]
			lowerNext := i+1 < len(name) && isLower(name[i+1])
			// A new word: after a lower case letter or a digit, or the
			// last capital of an acronym of two or more that starts a
			// capitalised word (the R of MPTCPRetrans, not the M of HMac).
			if isLower(prev) || isDigit(prev) || isUpper(prev) && lowerNext && word > 1 {
				word = 0
			}
		}
		if word == 0 && b.Len() > 0 {
			b.WriteByte('_')
		}
		if isUpper(c) {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
		word++
	}
	return b.String()
}

func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }
func isLower(c byte) bool { return 'a' <= c && c <= 'z' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// validName reports whether name may become part of a metric name of
// the classic character set, which every Prometheus accepts.
func validName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		b := name[i]
		if !(isUpper(b) || isLower(b) || isDigit(b) || b == '_') {
			return false
		}
	}
	return true
}
