// Package mptcp lets Go programs use Multipath TCP.
package mptcp
