//go:build !linux

package collector

import (
	"errors"
	"fmt"
	"os"
)

var errNoNamespaces = fmt.Errorf("network namespaces are a Linux feature: %w", errors.ErrUnsupported)

func openNS(string) (*os.File, error) { return nil, errNoNamespaces }

func dupNS(int, string) (*os.File, error) { return nil, errNoNamespaces }

func checkEnter(*os.File) error { return errNoNamespaces }

type nsID struct{}

func idOf(*os.File) (nsID, bool) { return nsID{}, false }

func readEnabled(*os.File) (string, error) {
	return "", fmt.Errorf("net.mptcp.enabled is a Linux sysctl: %w", errors.ErrUnsupported)
}
