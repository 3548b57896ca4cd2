package diag

// OpError is the error of every call of this package: the operation and
// its cause. errors.Is matches the cause: errors.ErrUnsupported (no MPTCP
// socket diagnostics, or not Linux), os.ErrPermission (subflows without
// CAP_NET_ADMIN on kernels that require it), os.ErrNotExist (no
// connection with that token), os.ErrInvalid (a bad argument, before
// anything is sent), net.ErrClosed (after Close), or a syscall errno.
type OpError struct {
	// Op is "dial", "list", "lookup" or "close".
	Op string
	// Err is the cause.
	Err error
}

// Error formats the error as "diag: OP: CAUSE".
func (e *OpError) Error() string { return "diag: " + e.Op + ": " + e.Err.Error() }

// Unwrap returns Err.
func (e *OpError) Unwrap() error { return e.Err }
