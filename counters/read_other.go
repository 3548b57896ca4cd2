//go:build !linux

package counters

func read(*Config) (Counters, error) { return nil, errNoMPTCP }
