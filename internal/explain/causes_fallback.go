package explain

// fallbackCauses are the causes of a connection that is not MPTCP at all:
// MPTCP off or missing, the option lost in the handshake, and the
// fallbacks the kernel counts by cause from 6.17 on. A row's Message and
// Fix are the words why gives for the causes found from counters alone
// (explainCounted, and a refused MPTCP SYN; the fix of dropped SYNs
// too); the others' messages are built from what was seen, and the rows
// describe them for the table.
//
// Since gives the first kernel with the counters a row rests on, from
// the kernel's history (net/mptcp/mib.c); the tests do not trust it, they
// read which counters the running kernel has.
var fallbackCauses = []Cause{
	{
		Code:     MPTCPDisabled,
		Sysctls:  []string{"net.mptcp.enabled"},
		Evidence: "the sysctl as the dial saw it",
		Side:     "client",
		Message:  "MPTCP is disabled in the network namespace: no MPTCP socket can be made, and the connection is plain TCP",
		Fix:      enableFix,
		Test:     "TestWhyMPTCPDisabled",
	},
	{
		Code:     Unsupported,
		Evidence: "the system: not Linux, or no /proc/sys/net/mptcp",
		Side:     "client",
		Message:  "the system has no MPTCP (not Linux, or a kernel built without it)",
		Fix:      "use Linux 5.6 or later built with CONFIG_MPTCP",
		NotBuilt: "a namespace has the kernel of its host; Explain is tested on the evidence of such a system (TestExplain), and the kernel matrix boots a 5.10 without MPTCP",
	},
	{
		Code:     ServerNoMPTCP,
		Counters: []string{"MPCapableFallbackSYNACK"},
		Evidence: "a capture of the handshake: the SYN left with MP_CAPABLE, the SYN/ACK came back without it and without the NOPs of a stripped option",
		Side:     "client",
		Message:  "the server answered the MP_CAPABLE SYN without MP_CAPABLE: it does not speak MPTCP (from the client, a SYN stripped on its way in looks the same, so both are given)",
		Fix:      "enable MPTCP on the server: net.mptcp.enabled=1 and a listener that asks for MPTCP",
		Test:     "TestWhyServerNoMPTCP",
	},
	{
		Code:     OptionStripped,
		Counters: []string{"MPCapableFallbackSYNACK"},
		Evidence: "a capture of the handshake: the SYN or the SYN/ACK with the option overwritten by a run of NOPs",
		Side:     "client",
		Message:  "a middlebox or firewall removed the MPTCP option from the SYN or the SYN/ACK",
		Fix:      "let TCP option 30 through: remove the rule that strips it (such as iptables TCPOPTSTRIP) or bypass the middlebox",
		Test:     "TestWhyOptionStripped",
	},
	{
		Code:     OptionStripped,
		Counters: []string{"MPCapableSYNTXDrop"},
		Sysctls:  []string{"net.mptcp.syn_retrans_before_tcp_fallback"},
		Since:    "6.12",
		Side:     "client",
		Message:  "SYNs carrying the MPTCP option were dropped on the path, and after syn_retrans_before_tcp_fallback retransmissions the kernel retried without it",
		Fix:      "remove what drops SYNs with TCP option 30 (a firewall rule matching --tcp-option 30, a middlebox that drops unknown options)",
		Test:     "TestWhySYNDropFallback",
	},
	{
		Code:     OptionStripped,
		Counters: []string{"MPCapableSYNTX"},
		Evidence: "the connection is a plain TCP socket, the dialer's retry, and no SYN/ACK with MP_CAPABLE was counted (MPCapableSYNACKRX); no counter of a fallback moves",
		Side:     "client",
		Message:  "the SYN with the MPTCP option was refused (reset) on the path while a plain SYN went through, and the dialer retried with plain TCP, as Go's dialers do after any failure of the MPTCP attempt",
		Fix:      "let SYNs with TCP option 30 through: remove the rule that rejects them (such as iptables -m tcp --tcp-option 30 -j REJECT --reject-with tcp-reset)",
		Test:     "TestWhyMPTCPSYNRefused",
	},
	{
		Code:     BlackholeDetected,
		Counters: []string{"Blackhole", "MPCapableSYNTXDisabled"},
		Sysctls:  []string{"net.mptcp.blackhole_timeout"},
		Evidence: "a probe connection over loopback that shows whether new sockets still offer MPTCP",
		Since:    "6.12",
		Side:     "client",
		Message:  "after SYNs with the MPTCP option were dropped, the kernel's blackhole detection turned MPTCP off for the namespace's outgoing connections for net.mptcp.blackhole_timeout",
		Fix:      blackholeFix,
		Test:     "TestBlackholeDetection",
	},
	{
		Code:     DataFallback,
		Counters: []string{"MPCapableDataFallback", "DssFallback", "DSSNotMatching", "DSSNoMatchTCP"},
		Evidence: "the socket diagnostics' fallback flag; a handshake captured with MP_CAPABLE both ways (no DataCsumErr: that is checksum-failed)",
		Since:    "6.17",
		Side:     "both",
		Message:  "the handshake negotiated MPTCP, then data arrived without a valid MPTCP mapping (DSS option), so the kernel fell back to TCP: a middlebox strips or rewrites TCP options on packets other than SYNs, or resegments the stream (or, with checksums on, the peer fell back after a checksum failure on its side: its DataCsumErr counter says so)",
		Fix:      "find the middlebox that rewrites TCP options after the handshake (TCP normalisation or scrubbing, a transparent proxy, a rule such as iptables TCPOPTSTRIP without --syn) and let option 30 through on every packet",
		Test:     "TestWhyDataFallback",
	},
	{
		Code:     DataFallback,
		Counters: []string{"MPCapableFallbackACK"},
		Side:     "server",
		Message:  "the client's SYN offered MPTCP but its third ACK came without MP_CAPABLE, so the server fell back to TCP: the option is stripped from packets other than SYNs between the client and the server",
		Fix:      "find the middlebox between client and server that rewrites TCP options after the SYN and let option 30 through on every packet",
		Test:     "TestWhyDataFallback",
	},
	{
		Code:     DataFallback,
		Counters: []string{"DSSCorruptionFallback"},
		Since:    "6.12",
		Side:     "both",
		Message:  "the data of the first subflow no longer matched the MPTCP mapping its peer announced, so the kernel fell back to TCP",
		Fix:      "look for a middlebox that rewrites the stream (a proxy, a segment coalescer) or a peer's MPTCP bug; the kernel log may say more",
		NotBuilt: "the kernel counts it when a mapping it accepted turns out inconsistent with the data, which takes a peer that sends such mappings; the middlebox rules of the test bed only remove or change bytes, which the kernel sees earlier (data-fallback by DssFallback, checksum-failed)",
	},
	{
		Code:     ChecksumFailed,
		Counters: []string{"DataCsumErr", "MPFailTx", "MPFailRx", "InfiniteMapTx", "InfiniteMapRx"},
		Sysctls:  []string{"net.mptcp.checksum_enabled"},
		Evidence: "the connection's fallback (socket diagnostics, or DssFallback on 6.17 and later) together with the checksum failure",
		Since:    "5.14",
		Side:     "both",
		Message:  "the MPTCP data checksum failed: something on the path changed the payload (an application-level gateway, a proxy that rewrites content, a broken offload), and the kernel fell back to TCP",
		Fix:      "find what rewrites the payload and bypass it for MPTCP traffic; keep net.mptcp.checksum_enabled=1 on such paths, since without the checksum MPTCP cannot notice the change",
		Test:     "TestWhyChecksumFailed",
	},
	{
		Code:     SimultaneousConnect,
		Counters: []string{"SimultConnectFallback"},
		Since:    "6.17",
		Side:     "client",
		Message:  "the connection was opened by a simultaneous connect (each end sent a SYN to the other, as peer-to-peer programs do to cross NATs); MPTCP has no simultaneous open, so the kernel fell back to TCP",
		Fix:      "let one end listen and the other connect; the other end counts the fallback as MPCapableFallbackSYNACK",
		Test:     "TestWhySimultaneousConnect",
	},
	{
		Code:     MD5Signature,
		Counters: []string{"MD5SigFallback"},
		Since:    "6.17",
		Side:     "client",
		Message:  "the socket signs its segments with TCP MD5 (TCP_MD5SIG), which leaves no room in the TCP header for MPTCP options, so the kernel did not offer MPTCP",
		Fix:      "MPTCP and TCP MD5 signatures exclude each other: drop the signature, or accept plain TCP for this connection (an MPTCP socket refuses TCP_MD5SIG, so a program that sets it on one gets an error, or from Go a plain TCP socket)",
		NotBuilt: "MPTCP sockets refuse TCP_MD5SIG with ENOPROTOOPT (measured on 6.18 on a new socket, on a listener and on a socket that fell back), and Go then makes the listener or the connection plain TCP: no MPTCP socket can get a key from user space, so the counter cannot be moved here (TestCauseMD5SigRefusedByMPTCPSockets checks the refusal). A client without the key of such a plain MD5 listener has its SYNs dropped, MPTCP or not, and its dial times out (measured on 6.18): no connection to explain",
	},
	{
		Code:     NoToken,
		Counters: []string{"MPFallbackTokenInit"},
		Side:     "both",
		Message:  "the kernel could not allocate a token for the new MPTCP connection (out of memory, or no free token after its retries), so it fell back to TCP",
		Fix:      "check the host's memory and the kernel log (dmesg)",
		NotBuilt: "token allocation fails only when the kernel is out of memory or draws colliding tokens repeatedly, which user space cannot force",
	},
	{
		Code:     FallbackFailed,
		Counters: []string{"FallbackFailed"},
		Since:    "6.17",
		Side:     "both",
		Message:  "the connection had to fall back to TCP (its peer or a middlebox dropped MPTCP after the handshake) but could no longer, since a second subflow was being created at that moment, so the kernel reset it",
		Fix:      "the cause is that of data-fallback or checksum-failed, hit after the connection became multipath: find the middlebox that strips options or rewrites data on one of its paths",
		NotBuilt: "the kernel counts it when the fallback races with a new subflow during the handshake or the first data, a window of microseconds that no rule on the path can time",
	},
}
