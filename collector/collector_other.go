//go:build !linux

package collector

import (
	"os"

	"github.com/multipath-go/mptcp/internal/platform"
)

func openNS(string) (*os.File, error) { return nil, platform.ErrNotLinux }

func dupNS(int) (*os.File, error) { return nil, platform.ErrNotLinux }

func readEnabled(*os.File) (string, error) { return "", platform.ErrNotLinux }
