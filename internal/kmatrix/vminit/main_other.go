//go:build !linux

// Command vminit is the /init of the kernel matrix's virtual machines:
// it runs only as process 1 of a Linux kernel.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "vminit runs only as /init of a Linux virtual machine")
	os.Exit(2)
}
