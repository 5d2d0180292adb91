package chat

import "time"

// Metrics observes the hub for monitoring (the server exports it as
// Prometheus metrics). Its methods are called from the sequencer and from
// sends, some with Hub.mu held: they must be cheap, must not block and must
// not call back into the hub. Options.Metrics nil means none.
type Metrics interface {
	// Committed is called after each group commit of messages: how many
	// were stored and how long the store's transaction took.
	Committed(messages int, took time.Duration)
	// FannedOut is called after a committed group has been queued for
	// every session that gets it: the time from commit to the last enqueue.
	FannedOut(took time.Duration)
	// SlowConsumerDropped is called when a session is dropped because its
	// queue was full.
	SlowConsumerDropped()
	// RateLimited is called when a send or room change is refused for
	// going over the user's rate.
	RateLimited()
}

// noMetrics is the Metrics of a hub given none.
type noMetrics struct{}

func (noMetrics) Committed(int, time.Duration) {}
func (noMetrics) FannedOut(time.Duration)      {}
func (noMetrics) SlowConsumerDropped()         {}
func (noMetrics) RateLimited()                 {}
