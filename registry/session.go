package registry

import (
	"context"
	"sync"
)

// Session hands out one Client per registry host for the life of a command.
// Commands declare every repository they will touch with Want before the
// first Client call, so each registry sees, with token auth, one token
// request covering everything. A scope declared once the host's client
// exists is added to it, and its next request fetches a token that covers it.
type Session struct {
	options func(host string) (Options, error)

	mu      sync.Mutex
	scopes  map[string][]Scope
	clients map[string]*dial
}

type dial struct {
	once   sync.Once
	client *Client // set under Session.mu, with the scopes it was made with
	err    error
}

// NewSession returns a session that asks options how to reach each host.
func NewSession(options func(host string) (Options, error)) *Session {
	return &Session{options: options, scopes: map[string][]Scope{}, clients: map[string]*dial{}}
}

// Want records that the command needs actions on host/repo.
func (s *Session) Want(host, repo string, actions ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	scope := Scope{Repository: repo, Actions: actions}
	s.scopes[host] = append(s.scopes[host], scope)
	if d := s.clients[host]; d != nil && d.client != nil {
		d.client.auth.want([]Scope{scope})
	}
}

// Client returns the session's client for host, made on first use.
// Concurrent callers for the same host share one client.
func (s *Session) Client(_ context.Context, host string) (*Client, error) {
	s.mu.Lock()
	d, ok := s.clients[host]
	if !ok {
		d = &dial{}
		s.clients[host] = d
	}
	s.mu.Unlock()

	d.once.Do(func() {
		opts, err := s.options(host)
		if err != nil {
			d.err = err
			return
		}
		// The scopes are read and the client published in one step, so a
		// concurrent Want either is among them or finds the client.
		s.mu.Lock()
		defer s.mu.Unlock()
		d.client = New(host, append([]Scope(nil), s.scopes[host]...), opts)
	})
	return d.client, d.err
}

// Requests is how many requests the session's clients have sent to their
// registries' APIs (see Client.Requests).
func (s *Session) Requests() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, d := range s.clients {
		if d.client != nil {
			n += d.client.Requests()
		}
	}
	return n
}
