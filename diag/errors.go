package diag

import "github.com/multipath-go/mptcp/internal/errs"

// opError is the error of every call of this package: a *net.OpError
// whose Op is "dial", "list", "lookup" or "close" and whose Net is
// "sock_diag". errors.Is matches its cause: errors.ErrUnsupported (no
// MPTCP socket diagnostics, or not Linux), os.ErrPermission (subflows
// without CAP_NET_ADMIN on kernels that require it), os.ErrNotExist (no
// connection with that token, or a namespace path that does not exist),
// os.ErrInvalid (a bad argument, before anything is sent), net.ErrClosed
// (after Close), or a syscall errno.
func opError(op string, err error) error { return errs.Op(op, "sock_diag", err) }
