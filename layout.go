package mptcp

// The layouts of the kernel structures this package decodes: their sizes,
// and the offset of every field. This file is their one source of truth;
// the tests check it against independent ones (unix.TCPInfo for tcp_info,
// the kernel headers' values for mptcp_info). The structures are Linux's,
// so this file builds on every platform, with the decoders, and so do
// their tests and fuzz targets.

// Sizes of the kernel structures this package knows. The kernel copies
// min(what is asked, what it has), so asking for exactly what is decoded
// is enough: newer fields would not be decoded anyway.
const (
	infoLen         = 96  // struct mptcp_info on 6.10+
	tcpInfoLen      = 280 // struct tcp_info on 6.18
	sockaddrLen     = 128 // struct sockaddr_storage
	subflowAddrsLen = 2 * sockaddrLen
	subflowInfoLen  = 8 + subflowAddrsLen // struct mptcp_subflow_info on a 64-bit kernel
	subflowDataLen  = 16                  // struct mptcp_subflow_data
	fullInfoHdrLen  = 40                  // struct mptcp_full_info before its mptcp_info
)

// Offsets in struct mptcp_subflow_data, the header of MPTCP_TCPINFO and
// MPTCP_SUBFLOW_ADDRS.
const (
	sdSizeSubflowData = 0 // the header size the caller knows (in)
	sdNumSubflows     = 4 // subflows that exist (out)
	sdSizeKernel      = 8 // the kernel's element size (out)
	sdSizeUser        = 12
)

// Offsets in struct mptcp_full_info, the header of MPTCP_FULL_INFO.
const (
	fiSizeTCPInfoKernel = 0
	fiSizeTCPInfoUser   = 4
	fiSizeSfInfoKernel  = 8
	fiSizeSfInfoUser    = 12
	fiNumSubflows       = 16
	fiSizeArraysUser    = 20
	fiSubflowInfo       = 24 // u64: user address of the mptcp_subflow_info array
	fiTCPInfo           = 32 // u64: user address of the tcp_info array
)

// Offsets in struct mptcp_info (<linux/mptcp.h>). The kernel release that
// added each field is in the comments of Info and InfoField.
const (
	miSubflows           = 0
	miAddAddrSignal      = 1
	miAddAddrAccepted    = 2
	miSubflowsMax        = 3
	miAddAddrSignalMax   = 4
	miAddAddrAcceptedMax = 5
	miFlags              = 8
	miToken              = 12
	miWriteSeq           = 16
	miSndUna             = 24
	miRcvNxt             = 32
	miLocalAddrUsed      = 40
	miLocalAddrMax       = 41
	miCsumEnabled        = 42
	miRetransmits        = 44
	miBytesRetrans       = 48
	miBytesSent          = 56
	miBytesReceived      = 64
	miBytesAcked         = 72
	miSubflowsTotal      = 80
	miLastDataSent       = 84
	miLastDataRecv       = 88
	miLastAckRecv        = 92
)

// infoGroupEnds[i] is where the fields of InfoField 1<<i end: a kernel
// that returns that many bytes has them all.
var infoGroupEnds = [...]int{40, 42, 43, 80, 81, 96}

// Offsets in struct tcp_info (<linux/tcp.h>; the same layout as
// unix.TCPInfo).
const (
	tcpiState            = 0
	tcpiCAState          = 1
	tcpiRetransmits      = 2
	tcpiProbes           = 3
	tcpiBackoff          = 4
	tcpiOptions          = 5
	tcpiWScale           = 6
	tcpiRTO              = 8
	tcpiATO              = 12
	tcpiSndMSS           = 16
	tcpiRcvMSS           = 20
	tcpiUnacked          = 24
	tcpiSacked           = 28
	tcpiLost             = 32
	tcpiRetrans          = 36
	tcpiLastDataSent     = 44
	tcpiLastDataRecv     = 52
	tcpiLastAckRecv      = 56
	tcpiPMTU             = 60
	tcpiRcvSsthresh      = 64
	tcpiRTT              = 68
	tcpiRTTVar           = 72
	tcpiSndSsthresh      = 76
	tcpiSndCwnd          = 80
	tcpiAdvMSS           = 84
	tcpiReordering       = 88
	tcpiRcvRTT           = 92
	tcpiRcvSpace         = 96
	tcpiTotalRetrans     = 100
	tcpiPacingRate       = 104
	tcpiMaxPacingRate    = 112
	tcpiBytesAcked       = 120
	tcpiBytesReceived    = 128
	tcpiSegsOut          = 136
	tcpiSegsIn           = 140
	tcpiNotSentBytes     = 144
	tcpiMinRTT           = 148
	tcpiDataSegsIn       = 152
	tcpiDataSegsOut      = 156
	tcpiDeliveryRate     = 160
	tcpiBusyTime         = 168
	tcpiRwndLimited      = 176
	tcpiSndbufLimited    = 184
	tcpiDelivered        = 192
	tcpiDeliveredCE      = 196
	tcpiBytesSent        = 200
	tcpiBytesRetrans     = 208
	tcpiDSACKDups        = 216
	tcpiReordSeen        = 220
	tcpiRcvOOOPack       = 224
	tcpiSndWnd           = 228
	tcpiRcvWnd           = 232
	tcpiRehash           = 236
	tcpiTotalRTO         = 240
	tcpiTotalRTORecovery = 242
	tcpiTotalRTOTime     = 244
	tcpiReceivedCE       = 248
	tcpiDeliveredE1Bytes = 252
	tcpiDeliveredE0Bytes = 256
	tcpiDeliveredCEBytes = 260
	tcpiReceivedE1Bytes  = 264
	tcpiReceivedE0Bytes  = 268
	tcpiReceivedCEBytes  = 272
)

// tcpInfoGroupEnds[i] is where the fields of TCPInfoField 1<<i end.
var tcpInfoGroupEnds = [...]int{232, 240, 248, 276}
