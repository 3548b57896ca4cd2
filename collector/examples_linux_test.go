package collector_test

import (
	"testing"

	"github.com/multipath-go/mptcp/internal/testbed"
)

// The examples pass on a host where MPTCP is off as where it is on.
func TestExamplesWithAndWithoutMPTCP(t *testing.T) { testbed.RunExamples(t) }
