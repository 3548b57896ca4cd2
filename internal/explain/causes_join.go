package explain

// joinCauses are the causes of a connection that is MPTCP but has fewer
// subflows than it could: joins refused, dropped, reset, or backups only.
// The tests named are in cmd/mptcpcheck (why_joins_linux_test.go and
// why_linux_test.go). The path manager's events, which most rest on,
// exist since Linux 5.12.
var joinCauses = append([]Cause{
	{
		Code:     NoEndpoint,
		Events:   []string{"announced"},
		Evidence: "this side's endpoints (none with the subflow flag for the connection's family), no announced event, mptcp_info's add_addr_accepted 0; doctor gives the same verdict of the host",
		Side:     "client",
		Message:  "this side has no subflow endpoint and the server announced no address",
		Fix:      addEndpointFix,
		Test:     "TestWhyNoEndpoint",
	},
	{
		Code:     NoEndpoint,
		Sysctls:  []string{"net.mptcp.pm_type"},
		Evidence: "net.mptcp.pm_type = 1: the userspace path manager opens subflows only when a daemon asks; an inference",
		Since:    "5.19",
		Side:     "client",
		Message:  "the namespace uses the userspace path manager and no daemon added a subflow",
		Fix:      "run a daemon such as mptcpd, or sysctl -w net.mptcp.pm_type=0",
		Test:     "TestDoctorAndWhyAgree",
	},
	{
		Code:     SubflowLimit,
		Evidence: "mptcp_info's subflows_max 0, or this side's limits (ip mptcp limits show); doctor gives the same verdict of the host",
		Side:     "client",
		Message:  "this side's limit of additional subflows is 0",
		Fix:      "ip mptcp limits set subflows 2 add_addr_accepted 2",
		Test:     "TestWhySubflowLimit",
	},
	{
		Code:     NotEstablished,
		Events:   []string{"established"},
		Evidence: "no established event for the connection's token: the path manager adds subflows only once data went both ways",
		Since:    "5.12",
		Side:     "client",
		Message:  "the connection is not fully established, and the path manager waits for that",
		Fix:      "send a request (a URL rather than an address), as a server that waits for the client to speak first needs",
		Test:     "TestWhySilentServerNotEstablished",
	},
	{
		Code:    JoinInitialDenied,
		Sysctls: []string{"net.mptcp.allow_join_initial_addr_port"},
		Events:  []string{"created", "established"},
		Evidence: "the deny_join_id0 flag of the connection's created or established event, no announced event, and a subflow endpoint of this side; " +
			"on the server, doctor reads the sysctl and finds no signal endpoint",
		Since:   "5.14",
		Side:    "both",
		Message: "the server refuses subflows to the address the connection started on and announced no other, so the client's endpoints have nothing to join",
		Fix:     "on the server: sysctl -w net.mptcp.allow_join_initial_addr_port=1, or announce a second address with ip mptcp endpoint add ADDR dev DEV signal",
		Test:    "TestWhyJoinInitialDenied",
	},
	{
		Code:     SubflowLimit,
		Counters: []string{"AddAddr", "EchoAddTx", "AddAddrDrop"},
		Events:   []string{"announced"},
		Evidence: "mptcp_info's add_addr_accepted at its add_addr_accepted_max; the kernel only echoes an announcement beyond the limit, " +
			"and counts AddAddrDrop for one that came while its path manager was busy; the server sees its announcement echoed (EchoAdd) and no join",
		Since:   "5.12",
		Side:    "client",
		Message: "the server announced an address that the client's limit of accepted addresses (add_addr_accepted, 0 by default) dropped",
		Fix:     "on the client: ip mptcp limits set add_addr_accepted 2",
		Test:    "TestWhyAnnouncedAddressDropped",
	},
	{
		Code:     JoinRejected,
		Counters: []string{"MPRstTx"},
		Events:   []string{"sub_established", "sub_closed"},
		Evidence: "a sub_established then a sub_closed with no error and no reset reason for the same addresses; the server refuses the join at its third ACK " +
			"with \"administratively prohibited\", but the client resets the join, not yet fully established, before it reads the reason (MPRstTx there); " +
			"the server counts MPJoinRejected (the next row) and doctor there reports its limit",
		Since:   "5.12",
		Side:    "both",
		Message: "the server refused the join after its handshake, most often because its limit of subflows is reached",
		Fix:     "on the server: ip mptcp limits set subflows 2",
		Test:    "TestWhyServerSubflowLimit",
	},
	{
		Code:     JoinRejected,
		Counters: []string{"MPJoinRejected"},
		Evidence: "on the server only: the joins its path manager refused, most often for its subflow limit; the client sees join-rejected (the row above)",
		Since:    "6.16",
		Side:     "server",
		Message:  "the server's path manager refused a join",
		Fix:      "on the server: ip mptcp limits set subflows 2",
		Test:     "TestWhyServerSubflowLimit",
	},
	{
		Code:     JoinFailed,
		Counters: []string{"DataCsumErr", "DSSCorruptionReset", "MPFailTx", "MPRstTx"},
		Sysctls:  []string{"net.mptcp.checksum_enabled"},
		Evidence: "a subflow in state CLOSE that no sub_closed event reported yet, and the checksum counters of this side; " +
			"the peer gets the reset with the reason \"middlebox interference\" (its row below)",
		Since:   "5.14",
		Side:    "both",
		Message: "a device on the subflow's path changed its payload, the data checksum failed, and this side reset the subflow",
		Fix:     resetFix("middlebox interference"),
		Test:    "TestWhyJoinResetByPeer",
	},
	{
		Code:     JoinFailed,
		Events:   []string{"sub_closed"},
		Evidence: "the error of the sub_closed event, with no sub_established after it for the same addresses",
		Since:    "5.12",
		Side:     "client",
		Message:  "the join's SYN had no answer (dropped on the way) or was refused",
		Fix:      "check that the path lets SYNs with MP_JOIN through to the server",
		Test:     "TestWhyJoinFailed",
	},
	{
		Code:     JoinFailed,
		Counters: JoinNotSentCounters(),
		Evidence: "the counters alone: the path manager sends no event for a join that failed before its SYN left; an inference, naming the endpoints with no subflow",
		Side:     "client",
		Message:  "the join could not be sent: no route from the endpoint's address, a failed bind, or no socket",
		Fix:      "check the route with ip route get SERVER from ADDR, and the endpoint with ip mptcp endpoint show",
		Test:     "TestWhyJoinNotSent",
	},
	{
		Code:     JoinPending,
		Evidence: "a subflow of the connection still in SYN_SENT at the end of the wait",
		Side:     "client",
		Message:  "the join had no answer yet: SYNs with MP_JOIN may be dropped on that path",
		Fix:      "wait longer (-wait), or check that the path lets SYNs with MP_JOIN through",
		Test:     "TestWhyJoinPending",
	},
	{
		Code:     BackupPath,
		Events:   []string{"sub_established"},
		Evidence: "every additional subflow up is a backup: opened from an endpoint of this side with the backup flag, or with the backup flag of its sub_established event (asked by the peer); doctor reports endpoints that are all backups",
		Since:    "5.12",
		Side:     "both",
		Message:  "every additional subflow is a backup, which carries data only when the other paths fail: a setting, not a failure",
		Fix:      "to send on every path at once: ip mptcp endpoint change id ID nobackup",
		Test:     "TestWhyBackupPath",
	},
	// Counters of join failures that the test bed cannot provoke: a
	// wrong HMAC needs a peer or a device that rewrites MP_JOIN
	// consistently, and the in-kernel path manager queues one
	// announcement at a time.
	{
		Code:     JoinFailed,
		Counters: []string{"MPJoinSynAckHMacFailure"},
		Events:   []string{"sub_closed"},
		Evidence: "the sub_closed event of the join; the counter on this side",
		Since:    "5.12",
		Side:     "client",
		Message:  "the server's answer to the join carried a wrong HMAC, and this side reset the join (reason \"MPTCP-specific error\")",
		Fix:      resetFix("MPTCP-specific error"),
		NotBuilt: "needs a server or a device that answers MP_JOIN with a wrong HMAC, which the test bed's tools cannot write",
	},
	{
		Code:     JoinRejected,
		Counters: []string{"MPJoinAckHMacFailure", "MPJoinNoTokenFound"},
		Events:   []string{"sub_established", "sub_closed"},
		Evidence: "on the client, a join that came up and closed, as for the server's subflow limit; on the server, these counters tell it: a wrong HMAC in the join's third ACK, or a token it does not know",
		Since:    "5.12",
		Side:     "both",
		Message:  "the server refused the join after its handshake: its HMAC was wrong, or the connection it names is gone",
		Fix:      "compare both ends' counters; a device that rewrites TCP options on that path, or a load balancer that sends the join to another server, is the usual cause",
		NotBuilt: "needs a join rewritten on the way, or sent to a server without the connection, which the test bed's single server cannot show",
	},
	{
		Code:     NoEndpoint,
		Counters: []string{"AddAddrTxDrop"},
		Evidence: "on the server only: from the client, no announced event, as for a server without a signal endpoint",
		Side:     "server",
		Message:  "the server's kernel dropped its announcement before sending it, another one of the connection still waiting to go out (the kernel's \"resource exhaustion\")",
		Fix:      "the in-kernel path manager announces one address at a time; a userspace path manager that announces faster must wait for each echo",
		NotBuilt: "the in-kernel path manager of the test bed's server never queues a second announcement before the first is sent",
	},
	{
		Code:     JoinFailed,
		Counters: []string{"MismatchPortSynRx", "MismatchPortAckRx"},
		Evidence: "on the server only; the client sees its join reset with the reason \"administratively prohibited\" (its row below)",
		Side:     "server",
		Message:  "a join came to a port of the server other than the one the connection uses or the server announced, and the server refused it",
		Fix:      "the peer's path manager joins a port nobody announced: check the ports of the server's signal endpoints (ip mptcp endpoint show) and the peer's implementation",
		NotBuilt: "the Linux path manager joins only the ports it was told of; a join to another port takes a peer that picks one itself",
	},
}, resetCauses()...)

// resetCauses are the rows of the MP_TCPRST reasons, in a sub_closed
// event of the side that received the reset: why gives join-failed with
// what the reason means.
func resetCauses() []Cause {
	notBuilt := map[string]string{
		"unspecified error": "Linux sends it when it resets a subflow for no named reason, such as a join reset before it was fully established, " +
			"and the peer's kernel has then disposed of the subflow (TestWhyServerSubflowLimit shows the client's MPRstTx)",
		"MPTCP-specific error": "Linux sends it for a join whose HMAC or options are wrong, which needs a device that rewrites MPTCP options consistently; the test bed's tools can only strip them",
		"lack of resources":    "Linux does not send it; another implementation would",
		"administratively prohibited": "Linux sends it when it refuses a join at the join's third ACK, where the joining kernel resets the join itself before it reads the reason: " +
			"TestWhyServerSubflowLimit builds that refusal and checks join-rejected",
		"too much outstanding data": "Linux does not send it; another implementation would",
		"unacceptable performance":  "Linux does not send it; another implementation would",
	}
	var rows []Cause
	for _, r := range resetReasons {
		c := Cause{
			Code:         JoinFailed,
			ResetReasons: []string{r.reason},
			Events:       []string{"sub_closed"},
			Evidence:     "the reset reason of the sub_closed event",
			Since:        "5.13",
			Side:         "both",
			Message:      "the peer reset the subflow: " + r.meaning,
			Fix:          r.fix,
			NotBuilt:     notBuilt[r.reason],
		}
		if r.reason == "middlebox interference" {
			c.Counters = []string{"MPRstRx"}
			c.Test = "TestWhyJoinResetByPeer"
		}
		rows = append(rows, c)
	}
	return rows
}
