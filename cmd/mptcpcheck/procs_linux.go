package main

import (
	"cmp"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// maxFDLinks bounds the descriptors socketOwners looks at in one scan, so
// that a host with millions of open files costs a bounded time: ss -p
// reads them all.
const maxFDLinks = 1 << 20

// socketOwners finds the processes holding the sockets whose inodes are
// keys of want, as ss -p does: a link "socket:[INODE]" in /proc/PID/fd.
// It reads what it may and skips the rest: without privilege the
// descriptors of other users' processes are closed to it, and a process
// or descriptor that goes away during the scan is passed over. Inodes
// are unique across network namespaces, so this finds the owners of
// another namespace's sockets too, as long as proc shows their
// processes. proc is /proc, or a copy of its layout in tests.
func socketOwners(proc string, want map[uint32]bool) map[uint32][]owner {
	found := map[uint32][]owner{}
	if len(want) == 0 {
		return found
	}
	d, err := os.Open(proc)
	if err != nil {
		return found
	}
	defer d.Close()
	links := 0
	for links < maxFDLinks {
		names, err := d.Readdirnames(256)
		for _, name := range names {
			pid, perr := strconv.Atoi(name)
			if perr != nil || pid <= 0 {
				continue
			}
			links += ownedBy(proc, pid, want, found, maxFDLinks-links)
		}
		if err != nil {
			break
		}
	}
	for _, owners := range found {
		slices.SortFunc(owners, func(a, b owner) int { return cmp.Or(cmp.Compare(a.PID, b.PID), cmp.Compare(a.FD, b.FD)) })
	}
	return found
}

// ownedBy adds to found the sockets of want that process pid holds,
// reading at most limit descriptors, and returns how many it read.
func ownedBy(proc string, pid int, want map[uint32]bool, found map[uint32][]owner, limit int) int {
	dir := filepath.Join(proc, strconv.Itoa(pid), "fd")
	fds, err := os.Open(dir)
	if err != nil {
		return 0 // gone, or not ours to read
	}
	defer fds.Close()
	names, _ := fds.Readdirnames(limit)
	var command string
	for _, name := range names {
		fd, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		target, err := os.Readlink(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		rest, ok := strings.CutPrefix(target, "socket:[")
		if !ok {
			continue
		}
		inode, err := strconv.ParseUint(strings.TrimSuffix(rest, "]"), 10, 32)
		if err != nil || !want[uint32(inode)] {
			continue
		}
		if command == "" {
			b, _ := os.ReadFile(filepath.Join(proc, strconv.Itoa(pid), "comm"))
			if command = strings.TrimSuffix(string(b), "\n"); command == "" {
				command = "?" // the process ended meanwhile
			}
		}
		found[uint32(inode)] = append(found[uint32(inode)], owner{PID: pid, Command: command, FD: fd})
	}
	return len(names)
}
