package mptcp

// The Linux side of MPTCPConn's methods: each runs one request inside
// RawConn.Control, so that the descriptor stays open for the call, through
// the reader the kernel was found to need (host, reader_linux.go), and
// turns its outcome into an error as package net would.

func (c *MPTCPConn) multipathTCP() (bool, error) {
	const op = "multipathtcp"
	rc, err := c.rawConn()
	if err != nil {
		return false, c.opError(op, err)
	}
	if c.notMPTCP.Load() {
		if err := checkOpen(rc); err != nil {
			return false, c.opError(op, err)
		}
		return false, nil
	}
	r := getRequest()
	var ok bool
	var perr error
	err = rc.Control(func(fd uintptr) {
		r.fd, r.token = fd, &c.token
		ok, perr = host.isMPTCP(r)
	})
	putRequest(r)
	if err == nil {
		err = perr
	}
	if err != nil {
		return false, c.opError(op, err)
	}
	if !ok {
		c.notMPTCP.Store(true)
	}
	return ok, nil
}

// info reads the connection's mptcp_info into *in.
func (c *MPTCPConn) info(in *Info) error {
	const op = "mptcpinfo"
	rc, err := c.rawConn()
	if err != nil {
		return c.opError(op, err)
	}
	if c.notMPTCP.Load() {
		if err := checkOpen(rc); err != nil {
			return c.opError(op, err)
		}
		return c.opError(op, ErrNotMPTCP)
	}
	r := getRequest()
	var rerr error
	err = rc.Control(func(fd uintptr) {
		r.fd, r.token = fd, &c.token
		rerr = host.info(r, in)
	})
	putRequest(r)
	if err == nil {
		err = rerr
	}
	if err != nil {
		*in = Info{}
		return c.fail(op, err)
	}
	return nil
}

// appendSubflows appends the connection's subflows to dst and, when in
// is not nil, reads its mptcp_info into *in at the same instant where
// the kernel allows. On error it returns dst and leaves *in zero.
func (c *MPTCPConn) appendSubflows(dst []Subflow, in *Info) ([]Subflow, error) {
	const op = "subflows"
	rc, err := c.rawConn()
	if err != nil {
		return dst, c.opError(op, err)
	}
	if c.notMPTCP.Load() {
		if err := checkOpen(rc); err != nil {
			return dst, c.opError(op, err)
		}
		return dst, c.opError(op, ErrNotMPTCP)
	}
	r := getRequest()
	subs := dst
	var rerr error
	err = rc.Control(func(fd uintptr) {
		r.fd, r.token = fd, &c.token
		subs, rerr = host.appendSubflows(r, dst, in)
	})
	putRequest(r)
	if err == nil {
		err = rerr
	}
	if err != nil {
		if in != nil {
			*in = Info{}
		}
		return dst, c.fail(op, err)
	}
	return subs, nil
}

// fail remembers a connection found not to be MPTCP, and wraps err.
func (c *MPTCPConn) fail(op string, err error) error {
	if err == ErrNotMPTCP {
		c.notMPTCP.Store(true)
	}
	return c.opError(op, err)
}

// spliceRefused reports whether splice into this connection would fail:
// it is MPTCP, on a kernel without SOL_MPTCP (5.10 with MPTCP refuses
// splice into MPTCP sockets). What the kernel is, is learned from the
// connection if no call learned it yet.
func (c *MPTCPConn) spliceRefused() bool {
	if c == nil || c.TCPConn == nil || c.notMPTCP.Load() {
		return false
	}
	if host.get() == readerUnknown {
		c.multipathTCP()
	}
	rd := host.get()
	return (rd == readerSockDiag || rd == readerNone) && !c.notMPTCP.Load()
}
