package registry

import (
	"context"
	"sync"
)

// Session hands out one Client per registry host for the life of a command.
// Commands declare every repository they will touch with Want before the
// first Client call, so each registry sees one ping and, with token auth, one
// token request covering everything.
type Session struct {
	options func(host string) (Options, error)

	mu      sync.Mutex
	scopes  map[string][]Scope
	clients map[string]*dial
}

type dial struct {
	once   sync.Once
	client *Client
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
	s.scopes[host] = append(s.scopes[host], Scope{Repository: repo, Actions: actions})
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
	scopes := append([]Scope(nil), s.scopes[host]...)
	s.mu.Unlock()

	d.once.Do(func() {
		opts, err := s.options(host)
		if err != nil {
			d.err = err
			return
		}
		d.client = New(host, scopes, opts)
	})
	return d.client, d.err
}
