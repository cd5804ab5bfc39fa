package registry

import (
	"crypto/tls"
	"time"
)

// Credentials are what the Docker CLI resolved for one registry. The zero
// value means anonymous access.
type Credentials struct {
	Username      string
	Password      string
	IdentityToken string // an OAuth refresh token, from `docker login` to registries that issue one
	RegistryToken string // a bearer token used as-is
	// From says where they came from ("--dest-creds", "the credsStore
	// desktop in config.json"), for the error when the registry rejects
	// them; it is never sent.
	From string
}

// presented reports whether the credentials are any to present.
func (c Credentials) presented() bool {
	return c.Username != "" || c.IdentityToken != "" || c.RegistryToken != ""
}

// Options say how to reach one registry.
type Options struct {
	// Insecure allows plain HTTP and TLS without certificate verification,
	// as Docker does for its insecure registries: for the registry's own
	// host only, never for its token realm or a host it redirects to.
	Insecure bool
	// TLS returns the CA pool and client certificates for a host (certs.d);
	// nil, or a nil result, means the system roots. It is asked for the
	// registry's host and, separately, for each other host a request goes
	// to (token realm, redirects), so each host gets its own.
	TLS func(host string) (*tls.Config, error)
	// Credentials are used as given. When they are zero and
	// LookupCredentials is set, that is called instead, once, the first
	// time the registry answers with a challenge: a registry that never
	// asks for credentials never causes a credential helper to run.
	Credentials       Credentials
	LookupCredentials func() (Credentials, error)
	UserAgent         string
	// Log, when set, receives one line per request (method, URL, status), never
	// headers: used by --debug.
	Log func(format string, args ...any)

	// DialTimeout bounds connecting to a host, TCP and TLS handshake each
	// (0: 30 s).
	DialTimeout time.Duration
	// HeaderTimeout bounds the wait for an answer's headers once the request
	// is sent (0: 60 s): a server that accepts and never answers.
	HeaderTimeout time.Duration
	// IdleTimeout bounds how long a body being read may deliver nothing
	// (0: 60 s). A stalled body fails like a cut connection, and is retried
	// where the read is.
	IdleTimeout time.Duration
	// TotalTimeout bounds a whole answer other than a blob's (token,
	// manifest, tags page, error body), however steadily it trickles
	// (0: 60 s).
	TotalTimeout time.Duration
	// MinRate is the throughput, in bytes per second, under which a blob
	// body fails when it stays there for RateWindow of reading (0: 64 KiB/s
	// over 60 s), and is retried like a cut connection.
	MinRate    int64
	RateWindow time.Duration

	// ChunkSize is the size of the chunks of a chunked upload, raised to
	// the registry's OCI-Chunk-Min-Length where that is larger
	// (0: DefaultChunkSize).
	ChunkSize int64

	// Retry is how requests, cut blob bodies and blob transfers are tried
	// again (zero fields: the defaults of RetryPolicy).
	Retry RetryPolicy
}

// Default deadlines, for Options fields left zero.
const (
	DefaultDialTimeout   = 30 * time.Second
	DefaultHeaderTimeout = 60 * time.Second
	DefaultIdleTimeout   = 60 * time.Second
	DefaultTotalTimeout  = 60 * time.Second
	DefaultMinRate       = 64 << 10
	DefaultRateWindow    = 60 * time.Second
	DefaultChunkSize     = 8 << 20
)

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func orDefault64(n, def int64) int64 {
	if n > 0 {
		return n
	}
	return def
}
