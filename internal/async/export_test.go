package async

import (
	"context"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/awsapi"
)

// StallCommits replaces s's committer with one that does not run yet:
// publishes queue up until resume starts it, and it then takes them all
// as one group. Call it before the publishes, and call resume.
func (s *Service) StallCommits() (resume func()) {
	s.commit.close()
	s.commit = newCommitter(s.cfg, s.js, s.commit.observe)
	return s.commit.start
}

// QueuedCommits returns how many publishes wait for the committer.
func (s *Service) QueuedCommits() int { return len(s.commit.in) }

// Stream and Consumer return the stream of queued events and the
// workers' consumer.
func (s *Service) Stream() jetstream.Stream     { return s.stream }
func (s *Service) Consumer() jetstream.Consumer { return s.cons }

// PublishBundle stores the events of reqs, all for one function, as one
// bundle, as the committer does for a group, and returns their request
// ids.
func (s *Service) PublishBundle(ctx context.Context, reqs ...*stratus.InvokeRequest) ([]string, error) {
	events := make([]*event, len(reqs))
	ids := make([]string, len(reqs))
	for i, req := range reqs {
		events[i] = &event{Function: req.FunctionName, Qualifier: req.Qualifier, RequestID: awsapi.NewRequestID(),
			Enqueued: s.now(), Payload: req.Payload}
		ids[i] = events[i].RequestID
	}
	m := &nats.Msg{Subject: s.cfg.eventSubject(reqs[0].FunctionName, len(events)), Data: encodeBundle(events)}
	_, err := s.js.PublishMsg(ctx, m)
	return ids, err
}

// PublishLegacy stores an event as versions before bundles did: its
// fields in headers, its payload as the body.
func (s *Service) PublishLegacy(ctx context.Context, function string, payload []byte, attempts int) (string, error) {
	id := awsapi.NewRequestID()
	m := &nats.Msg{Subject: s.cfg.Subject + ".ev." + function, Data: payload, Header: nats.Header{
		hdrLegacyFunction:  []string{function},
		hdrLegacyRequestID: []string{id},
		hdrLegacyEnqueued:  []string{strconv.FormatInt(s.now().UnixNano(), 10)},
		hdrLegacyAttempts:  []string{strconv.Itoa(attempts)},
		hdrLegacyInvokes:   []string{strconv.Itoa(attempts)},
	}}
	_, err := s.js.PublishMsg(ctx, m)
	return id, err
}

// SetCPUTimes replaces where s reads the host's CPU times (for the
// adaptive worker limit); call it before Start.
func (s *Service) SetCPUTimes(f func() (idle, total uint64, ok bool)) { s.cpuTimes = f }
