package main

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stratus-dev/stratus/internal/esm"
	"github.com/stratus-dev/stratus/internal/sqs"
)

// queueServices are the SQS service and the event source mappings that
// drive functions from its queues.
type queueServices struct {
	sqs *sqs.Service
	api *sqs.Handler
	esm *esm.Service
}

// openQueues opens the queue service (rebuilding every queue from its
// stream) and starts the event source mappings. It needs the store and
// the router.
func (m *Main) openQueues(ctx context.Context, js jetstream.JetStream) error {
	c := m.Config
	qcfg := sqs.DefaultConfig()
	qcfg.Region, qcfg.AccountID = c.Region, c.AccountID
	qcfg.Logger = m.Logger.With("component", "sqs")
	var err error
	if m.queues.sqs, err = sqs.Open(ctx, js, qcfg); err != nil {
		return fmt.Errorf("opening the queue service: %w", err)
	}
	m.queues.api = m.queues.sqs.Handler()
	ecfg := esm.DefaultConfig()
	ecfg.Region = c.Region
	ecfg.Logger = m.Logger.With("component", "esm")
	deps := esm.Deps{Queues: m.queues.sqs, Invoker: m.router, Functions: m.store}
	if m.queues.esm, err = esm.Open(ctx, js, ecfg, deps); err != nil {
		return fmt.Errorf("opening the event source mappings: %w", err)
	}
	return nil
}

// closeQueues stops the pollers (invocations in flight get a few
// seconds), then the queues.
func (m *Main) closeQueues() {
	if m.queues.esm != nil {
		_ = m.queues.esm.Close()
	}
	if m.queues.sqs != nil {
		_ = m.queues.sqs.Close()
	}
}
