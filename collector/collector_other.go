//go:build !linux

package collector

import (
	"os"

	"github.com/multipath-go/mptcp/internal/platform"
)

func openNS(string) (*os.File, error) { return nil, platform.ErrNotLinux }

func dupNS(int) (*os.File, error) { return nil, platform.ErrNotLinux }

func enter(*os.File, func() error) error { return platform.ErrNotLinux }

func checkEnter(*os.File) error { return platform.ErrNotLinux }

type nsID struct{}

func idOf(*os.File) (nsID, bool) { return nsID{}, false }

func readEnabled() (string, error) { return "", platform.ErrNotLinux }
