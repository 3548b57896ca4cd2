package diag

import "github.com/multipath-go/mptcp/internal/errs"

// opError is the error of every call of this package (see the package
// documentation, Errors).
func opError(op string, err error) error { return errs.Op(op, "sock_diag", err) }
