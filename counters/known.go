package counters

// Kind says how a value behaves over time.
type Kind uint8

const (
	// KindCounter only grows: the number of events since the namespace
	// was made (modulo the width of the kernel's unsigned long).
	KindCounter Kind = iota
	// KindGauge goes up and down: a current count.
	KindGauge
)

// Side is the side of a connection that counts a fallback to TCP.
type Side uint8

const (
	// SideNone marks a counter that does not count fallbacks.
	SideNone Side = iota
	// SideClient marks a fallback counted by the side that opened the
	// connection (its SYN was sent).
	SideClient
	// SideServer marks a fallback counted by the side that accepted it.
	SideServer
	// SideEither marks a fallback that either side may count, after the
	// handshake.
	SideEither
)

// String returns "client", "server", "either" or "".
func (s Side) String() string {
	switch s {
	case SideClient:
		return "client"
	case SideServer:
		return "server"
	case SideEither:
		return "either"
	}
	return ""
}

// Description documents one counter.
type Description struct {
	// Help says what the kernel counts, in one sentence.
	Help string
	// Kind is KindGauge for MPCurrEstab, KindCounter for the others.
	Kind Kind
	// Fallback is the side that counts a connection falling back to
	// TCP, or SideNone. Each fallback is counted once, by one of these
	// counters, from 6.17 on; before, some causes counted none.
	Fallback Side
}

// Describe returns the description of the counter named name, and
// whether this package knows it. A kernel may have counters it does not
// know; they are still read.
func Describe(name string) (Description, bool) {
	d, ok := known[name]
	return d, ok
}

// known documents the counters of net/mptcp/mib.c up to Linux 6.18, with
// their meaning and, for the fallback counters, which side counts them.
var known = map[string]Description{
	"MPCapableSYNRX":          {Help: "SYNs received with MP_CAPABLE."},
	"MPCapableSYNTX":          {Help: "SYNs sent with MP_CAPABLE."},
	"MPCapableSYNACKRX":       {Help: "SYN/ACKs received with MP_CAPABLE."},
	"MPCapableACKRX":          {Help: "Third ACKs received with MP_CAPABLE."},
	"MPCapableFallbackACK":    {Help: "Server-side fallbacks during the handshake: the SYN came with MP_CAPABLE, the third ACK without it (plain TCP clients of MPTCP listeners are not counted).", Fallback: SideServer},
	"MPCapableFallbackSYNACK": {Help: "Client-side fallbacks during the handshake: the SYN/ACK came without MP_CAPABLE (a server without MPTCP, or a middlebox that strips the option).", Fallback: SideClient},
	"MPCapableSYNTXDrop":      {Help: "Client-side fallbacks after SYNs with MP_CAPABLE were dropped: the SYN was retransmitted without the option (about 6.12 and later).", Fallback: SideClient},
	"MPCapableSYNTXDisabled":  {Help: "Client-side fallbacks because MPTCP was disabled after blackholes on earlier connections (about 6.12 and later).", Fallback: SideClient},
	"MPCapableEndpAttempt":    {Help: "MP_CAPABLE SYNs refused because they were sent to a port-based endpoint (about 6.12 and later)."},
	"MPFallbackTokenInit":     {Help: "Fallbacks because no token could be allocated for a new connection.", Fallback: SideEither},
	"MPTCPRetrans":            {Help: "Segments retransmitted at the MPTCP level."},
	"MPJoinNoTokenFound":      {Help: "MP_JOIN SYNs received for a token no connection has."},
	"MPJoinSynRx":             {Help: "SYNs received with MP_JOIN."},
	"MPJoinSynBackupRx":       {Help: "SYNs received with MP_JOIN and the backup flag."},
	"MPJoinSynAckRx":          {Help: "SYN/ACKs received with MP_JOIN."},
	"MPJoinSynAckBackupRx":    {Help: "SYN/ACKs received with MP_JOIN and the backup flag."},
	"MPJoinSynAckHMacFailure": {Help: "SYN/ACKs with MP_JOIN whose HMAC was wrong."},
	"MPJoinAckRx":             {Help: "Third ACKs received with MP_JOIN."},
	"MPJoinAckHMacFailure":    {Help: "ACKs with MP_JOIN whose HMAC was wrong."},
	"MPJoinRejected":          {Help: "MP_JOIN requests rejected, by the path manager or the subflow limit."},
	"MPJoinSynTx":             {Help: "SYNs sent with MP_JOIN."},
	"MPJoinSynTxCreatSkErr":   {Help: "MP_JOIN SYNs not sent: the subflow socket could not be created."},
	"MPJoinSynTxBindErr":      {Help: "MP_JOIN SYNs not sent: the local address could not be bound."},
	"MPJoinSynTxConnectErr":   {Help: "MP_JOIN SYNs not sent: connect failed."},
	"DSSNotMatching":          {Help: "New data mappings that did not match the previous one."},
	"DSSCorruptionFallback":   {Help: "Fallbacks after a corrupted data sequence mapping was detected.", Fallback: SideEither},
	"DSSCorruptionReset":      {Help: "Joined subflows reset after a corrupted data sequence mapping was detected."},
	"InfiniteMapTx":           {Help: "Infinite mappings sent: fallbacks after MP_FAIL.", Fallback: SideEither},
	"InfiniteMapRx":           {Help: "Infinite mappings received: the peer fell back after MP_FAIL."},
	"DSSNoMatchTCP":           {Help: "Data sequence mappings that did not match TCP's sequence numbers."},
	"DataCsumErr":             {Help: "Data checksum failures."},
	"OFOQueueTail":            {Help: "Segments added at the tail of the MPTCP out-of-order queue."},
	"OFOQueue":                {Help: "Segments added to the MPTCP out-of-order queue."},
	"OFOMerge":                {Help: "Segments merged in the MPTCP out-of-order queue."},
	"NoDSSInWindow":           {Help: "Segments outside the MPTCP receive window."},
	"DuplicateData":           {Help: "Segments dropped because their data had already arrived on another subflow."},
	"AddAddr":                 {Help: "ADD_ADDR received (without the echo flag): addresses the peer announced."},
	"AddAddrTx":               {Help: "ADD_ADDR sent (without the echo flag): addresses announced to peers."},
	"AddAddrTxDrop":           {Help: "ADD_ADDR not sent for lack of resources."},
	"EchoAdd":                 {Help: "ADD_ADDR echoes received."},
	"EchoAddTx":               {Help: "ADD_ADDR echoes sent."},
	"EchoAddTxDrop":           {Help: "ADD_ADDR echoes not sent for lack of resources."},
	"PortAdd":                 {Help: "ADD_ADDR received with a port number."},
	"AddAddrDrop":             {Help: "ADD_ADDR received and dropped (over the add_addr_accepted limit, or not usable)."},
	"MPJoinPortSynRx":         {Help: "SYNs with MP_JOIN received on a port other than the connection's."},
	"MPJoinPortSynAckRx":      {Help: "SYN/ACKs with MP_JOIN received from a port other than the connection's."},
	"MPJoinPortAckRx":         {Help: "ACKs with MP_JOIN received on a port other than the connection's."},
	"MismatchPortSynRx":       {Help: "SYNs with MP_JOIN received on a port that does not match the announced one."},
	"MismatchPortAckRx":       {Help: "ACKs with MP_JOIN received on a port that does not match the announced one."},
	"RmAddr":                  {Help: "RM_ADDR received: addresses the peer withdrew."},
	"RmAddrDrop":              {Help: "RM_ADDR received and dropped."},
	"RmAddrTx":                {Help: "RM_ADDR sent."},
	"RmAddrTxDrop":            {Help: "RM_ADDR not sent for lack of resources."},
	"RmSubflow":               {Help: "Subflows removed."},
	"MPPrioTx":                {Help: "MP_PRIO sent (a subflow's backup flag changed)."},
	"MPPrioRx":                {Help: "MP_PRIO received."},
	"MPFailTx":                {Help: "MP_FAIL sent."},
	"MPFailRx":                {Help: "MP_FAIL received."},
	"MPFastcloseTx":           {Help: "MP_FASTCLOSE sent."},
	"MPFastcloseRx":           {Help: "MP_FASTCLOSE received."},
	"MPRstTx":                 {Help: "MP_RST sent: subflows reset with a reason."},
	"MPRstRx":                 {Help: "MP_RST received."},
	"RcvPruned":               {Help: "Incoming packets dropped at the memory limit."},
	"SubflowStale":            {Help: "Subflows that became stale (no progress while others had some)."},
	"SubflowRecover":          {Help: "Stale subflows that became active again."},
	"SndWndShared":            {Help: "Times a subflow's send window was replaced by the connection's."},
	"RcvWndShared":            {Help: "Times a subflow's receive window was replaced by the connection's."},
	"RcvWndConflictUpdate":    {Help: "Receive window updates that conflicted with another subflow's."},
	"RcvWndConflict":          {Help: "Conflicts while updating the connection's receive window."},
	"MPCurrEstab":             {Help: "MPTCP connections established now (a gauge).", Kind: KindGauge},
	"Blackhole":               {Help: "Blackholes detected: MP_CAPABLE SYNs that got no answer while plain ones did (about 6.12 and later)."},
	"MPCapableDataFallback":   {Help: "Fallbacks because the first data packet had no DSS or MP_CAPABLE (about 6.17 and later).", Fallback: SideEither},
	"MD5SigFallback":          {Help: "Fallbacks because the socket uses TCP MD5 signatures, which leave no room for MPTCP (about 6.17 and later).", Fallback: SideClient},
	"DssFallback":             {Help: "Fallbacks because a DSS option was bad or missing (about 6.17 and later).", Fallback: SideEither},
	"SimultConnectFallback":   {Help: "Fallbacks of simultaneous connects (about 6.17 and later).", Fallback: SideClient},
	"FallbackFailed":          {Help: "Connections reset because they could no longer fall back (about 6.17 and later)."},
	"WinProbe":                {Help: "MPTCP-level zero window probes sent."},
	"BacklogDrop":             {Help: "Packets dropped from the MPTCP backlog."},
	"OFOPruned":               {Help: "Packets pruned from the MPTCP out-of-order queue."},
}
