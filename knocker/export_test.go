package knocker

import "time"

// RetryPolicy lets the Monte Carlo in montecarlo_test.go compare retry
// policies on the engine itself.
type RetryPolicy = retryPolicy

// DefaultPolicy is the policy the engine uses.
var DefaultPolicy = defaultPolicy

// SetPolicy makes e use p.
func SetPolicy(e *Engine, p RetryPolicy) { e.policy = &p }

// RedialAt is when dialWindow starts its second connection attempt.
func RedialAt(start, deadline time.Time) time.Time { return redialAt(start, deadline) }
