package main

import (
	"fmt"
	"strings"
)

// owner is a process that holds a socket, as "ss -p" shows it.
type owner struct {
	PID     int    `json:"pid"`
	Command string `json:"command"` // the process's name, /proc/PID/comm
	FD      int    `json:"fd"`      // the descriptor that holds the socket
}

// ssUsers formats owners as ss -p does: users:(("nginx",pid=7,fd=6),...).
func ssUsers(owners []owner) string {
	parts := make([]string, len(owners))
	for i, o := range owners {
		parts[i] = fmt.Sprintf("(%q,pid=%d,fd=%d)", o.Command, o.PID, o.FD)
	}
	return "users:(" + strings.Join(parts, ",") + ")"
}
