//go:build !race

package mptcp

const raceEnabled = false
