//go:build !linux

package collector

import (
	"errors"
	"fmt"
	"os"
)

var errNoNamespaces = fmt.Errorf("network namespaces are a Linux feature: %w", errors.ErrUnsupported)

func openNS(string) (*os.File, error) { return nil, errNoNamespaces }

func dupNS(int) (*os.File, error) { return nil, errNoNamespaces }

func readEnabled(*os.File) (string, error) {
	return "", fmt.Errorf("net.mptcp.enabled is a Linux sysctl: %w", errors.ErrUnsupported)
}
