package pm

import (
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/mdlayher/genetlink"
)

// A kernel without the mptcp_pm family: Dial's error matches
// errors.ErrUnsupported, and os.ErrNotExist, and says that MPTCP is
// missing.
//
// The running kernel has the family, and generic netlink families are
// not per namespace, so this test cannot make Dial meet a kernel without
// it. It asks the real kernel for a family that no kernel registers, to
// get the error a missing family gives (ENOENT from nlctrl, through
// getFamily), and runs it through what newSysConn and Dial do with it:
// newSysConn's test (errors.Is(err, os.ErrNotExist)), errNoPathManager,
// wrapOp. The kernel matrix (internal/kmatrix) boots a 5.10 kernel
// without MPTCP, but it runs the tests of the root package only, not
// those of package pm: no test here dials a kernel without the family.
func TestNoFamilyError(t *testing.T) {
	gc, err := genetlink.Dial(nil)
	if err != nil {
		t.Fatalf("genetlink.Dial: %v", err)
	}
	defer gc.Close()
	const absent = "pm_test_absent" // 14 bytes: within GENL_NAMSIZ
	_, err = getFamily(gc, absent)
	if !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("getFamily(%q) of the real kernel: %v, want ENOENT", absent, err)
	}
	// newSysConn's test for a missing family.
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the kernel's error for a missing family, %v, does not match os.ErrNotExist: newSysConn would not see a missing family", err)
	}

	err = wrapOp("dial", errNoPathManager(err))
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "dial" || oe.Net != "mptcp_pm" {
		t.Errorf("no family: %v, want an *OpError for dial", err)
	}
	if !errors.Is(err, errors.ErrUnsupported) || !errors.Is(err, os.ErrNotExist) || !errors.Is(err, syscall.ENOENT) {
		t.Errorf("no family: %v, want errors.ErrUnsupported, os.ErrNotExist and ENOENT", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "no MPTCP path manager") || !strings.Contains(msg, "mptcp_pm") ||
		!strings.Contains(msg, "CONFIG_MPTCP") {
		t.Errorf("no family: %q, want it to say that the kernel has no MPTCP path manager", msg)
	}
	if errors.Is(err, os.ErrPermission) || errors.Is(err, os.ErrInvalid) {
		t.Errorf("no family: %v matches os.ErrPermission or os.ErrInvalid", err)
	}
}
