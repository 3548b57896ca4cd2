package mptcp

// The decoders by value, and the tcp_info field table: the package decodes
// in place (the *To decoders), and the tests check both forms with these,
// and the table against unix.TCPInfo (decode_linux_test.go).

// fullInfo is a decoded MPTCP_FULL_INFO header and the mptcp_info after it.
type fullInfo struct {
	fullInfoHeader
	info Info
}

// decodeFullInfoHeader is checkFullInfoHeader, and decodeInfoTo on the
// mptcp_info after the header.
func decodeFullInfoHeader(h []byte, optlen uint32) (fullInfo, error) {
	hdr, err := checkFullInfoHeader(h, optlen)
	if err != nil {
		return fullInfo{}, err
	}
	return fullInfo{hdr, decodeInfo(h[fullInfoHdrLen:optlen])}, nil
}

// decodeSubflowInfo is decodeSubflowInfoTo into a new Subflow.
func decodeSubflowInfo(b []byte, addrOff int) (Subflow, error) {
	var sf Subflow
	if err := decodeSubflowInfoTo(&sf, b, addrOff); err != nil {
		return Subflow{}, err
	}
	return sf, nil
}

// field describes one fixed-width kernel field: where it is and how many
// bytes it takes.
type field struct{ off, size int }

// decodeInfo is decodeInfoTo into a new Info.
func decodeInfo(b []byte) Info {
	var in Info
	decodeInfoTo(&in, b)
	return in
}

// The fields of struct tcp_info, offset and width: layout.go's offsets,
// checked against unix.TCPInfo.
var (
	tiState            = field{tcpiState, 1}
	tiCAState          = field{tcpiCAState, 1}
	tiRetransmits      = field{tcpiRetransmits, 1}
	tiProbes           = field{tcpiProbes, 1}
	tiBackoff          = field{tcpiBackoff, 1}
	tiOptions          = field{tcpiOptions, 1}
	tiWScale           = field{tcpiWScale, 1}
	tiRTO              = field{tcpiRTO, 4}
	tiATO              = field{tcpiATO, 4}
	tiSndMSS           = field{tcpiSndMSS, 4}
	tiRcvMSS           = field{tcpiRcvMSS, 4}
	tiUnacked          = field{tcpiUnacked, 4}
	tiSacked           = field{tcpiSacked, 4}
	tiLost             = field{tcpiLost, 4}
	tiRetrans          = field{tcpiRetrans, 4}
	tiLastDataSent     = field{tcpiLastDataSent, 4}
	tiLastDataRecv     = field{tcpiLastDataRecv, 4}
	tiLastAckRecv      = field{tcpiLastAckRecv, 4}
	tiPMTU             = field{tcpiPMTU, 4}
	tiRcvSsthresh      = field{tcpiRcvSsthresh, 4}
	tiRTT              = field{tcpiRTT, 4}
	tiRTTVar           = field{tcpiRTTVar, 4}
	tiSndSsthresh      = field{tcpiSndSsthresh, 4}
	tiSndCwnd          = field{tcpiSndCwnd, 4}
	tiAdvMSS           = field{tcpiAdvMSS, 4}
	tiReordering       = field{tcpiReordering, 4}
	tiRcvRTT           = field{tcpiRcvRTT, 4}
	tiRcvSpace         = field{tcpiRcvSpace, 4}
	tiTotalRetrans     = field{tcpiTotalRetrans, 4}
	tiPacingRate       = field{tcpiPacingRate, 8}
	tiMaxPacingRate    = field{tcpiMaxPacingRate, 8}
	tiBytesAcked       = field{tcpiBytesAcked, 8}
	tiBytesReceived    = field{tcpiBytesReceived, 8}
	tiSegsOut          = field{tcpiSegsOut, 4}
	tiSegsIn           = field{tcpiSegsIn, 4}
	tiNotSentBytes     = field{tcpiNotSentBytes, 4}
	tiMinRTT           = field{tcpiMinRTT, 4}
	tiDataSegsIn       = field{tcpiDataSegsIn, 4}
	tiDataSegsOut      = field{tcpiDataSegsOut, 4}
	tiDeliveryRate     = field{tcpiDeliveryRate, 8}
	tiBusyTime         = field{tcpiBusyTime, 8}
	tiRwndLimited      = field{tcpiRwndLimited, 8}
	tiSndbufLimited    = field{tcpiSndbufLimited, 8}
	tiDelivered        = field{tcpiDelivered, 4}
	tiDeliveredCE      = field{tcpiDeliveredCE, 4}
	tiBytesSent        = field{tcpiBytesSent, 8}
	tiBytesRetrans     = field{tcpiBytesRetrans, 8}
	tiDSACKDups        = field{tcpiDSACKDups, 4}
	tiReordSeen        = field{tcpiReordSeen, 4}
	tiRcvOOOPack       = field{tcpiRcvOOOPack, 4}
	tiSndWnd           = field{tcpiSndWnd, 4}
	tiRcvWnd           = field{tcpiRcvWnd, 4}
	tiRehash           = field{tcpiRehash, 4}
	tiTotalRTO         = field{tcpiTotalRTO, 2}
	tiTotalRTORecovery = field{tcpiTotalRTORecovery, 2}
	tiTotalRTOTime     = field{tcpiTotalRTOTime, 4}
	tiReceivedCE       = field{tcpiReceivedCE, 4}
	tiDeliveredE1Bytes = field{tcpiDeliveredE1Bytes, 4}
	tiDeliveredE0Bytes = field{tcpiDeliveredE0Bytes, 4}
	tiDeliveredCEBytes = field{tcpiDeliveredCEBytes, 4}
	tiReceivedE1Bytes  = field{tcpiReceivedE1Bytes, 4}
	tiReceivedE0Bytes  = field{tcpiReceivedE0Bytes, 4}
	tiReceivedCEBytes  = field{tcpiReceivedCEBytes, 4}
)

// decodeTCPInfo is decodeTCPInfoTo into a new TCPInfo.
func decodeTCPInfo(b []byte) TCPInfo {
	var t TCPInfo
	decodeTCPInfoTo(&t, b)
	return t
}
