// Package tokenserver is a small Docker registry token server (the "token"
// auth of CNCF distribution) for end-to-end tests: it checks users' passwords,
// issues ES256 JWTs that distribution 2.8 verifies through the x5c header
// against its rootcertbundle, grants scopes from a table, issues refresh
// tokens (identity tokens) and logs every request it answers.
package tokenserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Service and Issuer are what the registry's auth.token config must name.
const (
	Service = "mlist-e2e"
	Issuer  = "mlist-e2e-issuer"
)

// Grant gives actions on the repositories a pattern matches: "team/*" is
// every repository under team/, "*" every repository, anything else one
// repository.
type Grant struct {
	Pattern string
	Actions []string
}

func (g Grant) matches(repo string) bool {
	switch {
	case g.Pattern == "*":
		return true
	case strings.HasSuffix(g.Pattern, "/*"):
		return strings.HasPrefix(repo, strings.TrimSuffix(g.Pattern, "*"))
	}
	return g.Pattern == repo
}

// User is an account of the token server.
type User struct {
	Password string
	Grants   []Grant
}

// Request is one token request the server answered.
type Request struct {
	Method    string   // GET (Basic auth) or POST (OAuth form)
	GrantType string   // "" for GET, "password" or "refresh_token" for POST
	User      string   // the authenticated user, "" if none
	Scopes    []string // the scopes asked for, in order
	Granted   []string // "repo:actions" granted
	Status    int
}

func (r Request) String() string {
	return fmt.Sprintf("%s %s user=%q scopes=%v granted=%v -> %d", r.Method, r.GrantType, r.User, r.Scopes, r.Granted, r.Status)
}

// Server is a running token server.
type Server struct {
	URL        string // "http://127.0.0.1:PORT"
	Realm      string // URL + "/token"
	BundleFile string // the certificate for the registry's rootcertbundle

	users    map[string]User
	key      *ecdsa.PrivateKey
	certDER  []byte
	listener net.Listener
	srv      *http.Server

	// OnIssue, when set, is called with every token and refresh token issued,
	// so tests can check none of them leaks.
	OnIssue func(secret string)

	mu      sync.Mutex
	log     []Request
	refresh map[string]string // refresh token -> user
}

// Start starts a server on a free loopback port, writing its certificate
// into dir. Close stops it.
func Start(dir string, users map[string]User) (*Server, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(now.UnixNano()),
		Subject:               pkix.Name{CommonName: "docker-mlist e2e token signer"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	s := &Server{users: users, key: key, certDER: der, refresh: map[string]string{}}
	s.BundleFile = filepath.Join(dir, "token-signer.crt")
	if err := os.WriteFile(s.BundleFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, err
	}
	if s.listener, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return nil, err
	}
	s.URL = "http://" + s.listener.Addr().String()
	s.Realm = s.URL + "/token"
	mux := http.NewServeMux()
	mux.HandleFunc("/token", s.serveToken)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(s.listener) }()
	return s, nil
}

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

// Requests returns every request answered so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// Mark returns a position in the log for RequestsSince.
func (s *Server) Mark() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.log)
}

// RequestsSince returns the requests answered after Mark returned mark.
func (s *Server) RequestsSince(mark int) []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log[min(mark, len(s.log)):])
}

// IssueRefreshToken returns a refresh token for user, as `docker login`
// would have stored as identity token.
func (s *Server) IssueRefreshToken(user string) string {
	tok := s.newRefreshToken(user)
	return tok
}

// IssueToken returns an access token for user with these scopes (a
// "registry token"), valid for d.
func (s *Server) IssueToken(user string, scopes []string, d time.Duration) (string, error) {
	tok, _, err := s.sign(user, s.grant(user, scopes), d)
	return tok, err
}

func (s *Server) newRefreshToken(user string) string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	tok := "mlist-refresh-" + hex.EncodeToString(b)
	s.mu.Lock()
	s.refresh[tok] = user
	s.mu.Unlock()
	if s.OnIssue != nil {
		s.OnIssue(tok)
	}
	return tok
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	req := Request{Method: r.Method}
	status := http.StatusOK
	defer func() {
		req.Status = status
		s.mu.Lock()
		s.log = append(s.log, req)
		s.mu.Unlock()
	}()
	fail := func(code int, msg string) {
		status = code
		w.Header().Set("Content-Type", "application/json")
		if code == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="mlist-e2e"`)
		}
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": "UNAUTHORIZED", "message": msg}}})
	}

	var offline bool
	switch r.Method {
	case http.MethodGet:
		q := r.URL.Query()
		for _, sc := range q["scope"] {
			req.Scopes = append(req.Scopes, strings.Fields(sc)...)
		}
		offline = q.Get("offline_token") == "true"
		if u, p, ok := r.BasicAuth(); ok {
			if !s.checkPassword(u, p) {
				fail(http.StatusUnauthorized, "invalid username or password")
				return
			}
			req.User = u
		}
	case http.MethodPost:
		if err := r.ParseForm(); err != nil {
			fail(http.StatusBadRequest, "bad form")
			return
		}
		req.GrantType = r.PostForm.Get("grant_type")
		req.Scopes = strings.Fields(r.PostForm.Get("scope"))
		switch req.GrantType {
		case "password":
			u, p := r.PostForm.Get("username"), r.PostForm.Get("password")
			if !s.checkPassword(u, p) {
				fail(http.StatusUnauthorized, "invalid username or password")
				return
			}
			req.User = u
			offline = r.PostForm.Get("access_type") == "offline"
		case "refresh_token":
			s.mu.Lock()
			u, ok := s.refresh[r.PostForm.Get("refresh_token")]
			s.mu.Unlock()
			if !ok {
				fail(http.StatusUnauthorized, "invalid refresh token")
				return
			}
			req.User = u
		default:
			fail(http.StatusBadRequest, "unsupported grant_type")
			return
		}
	default:
		fail(http.StatusMethodNotAllowed, "GET or POST")
		return
	}
	if req.User == "" {
		// This server has no anonymous access, like most private registries.
		fail(http.StatusUnauthorized, "authentication required")
		return
	}
	access := s.grant(req.User, req.Scopes)
	for _, a := range access {
		req.Granted = append(req.Granted, a.Name+":"+strings.Join(a.Actions, ","))
	}
	tok, issued, err := s.sign(req.User, access, 5*time.Minute)
	if err != nil {
		fail(http.StatusInternalServerError, err.Error())
		return
	}
	resp := map[string]any{"token": tok, "access_token": tok, "expires_in": 300, "issued_at": issued.Format(time.RFC3339)}
	if offline || req.GrantType == "refresh_token" {
		resp["refresh_token"] = s.newRefreshToken(req.User)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

func (s *Server) checkPassword(user, password string) bool {
	u, ok := s.users[user]
	return ok && password != "" && u.Password == password
}

type access struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

// grant intersects the requested scopes with the user's grants.
func (s *Server) grant(user string, scopes []string) []access {
	var out []access
	for _, sc := range scopes {
		parts := strings.Split(sc, ":")
		if len(parts) < 3 || parts[0] != "repository" {
			continue
		}
		repo := strings.Join(parts[1:len(parts)-1], ":")
		var allowed []string
		for _, want := range strings.Split(parts[len(parts)-1], ",") {
			for _, g := range s.users[user].Grants {
				if g.matches(repo) && slices.Contains(g.Actions, want) && !slices.Contains(allowed, want) {
					allowed = append(allowed, want)
				}
			}
		}
		if len(allowed) > 0 {
			out = append(out, access{Type: "repository", Name: repo, Actions: allowed})
		}
	}
	return out
}

func (s *Server) sign(user string, acc []access, d time.Duration) (string, time.Time, error) {
	now := time.Now()
	header := map[string]any{"typ": "JWT", "alg": "ES256", "x5c": []string{base64.StdEncoding.EncodeToString(s.certDER)}}
	jti := make([]byte, 8)
	_, _ = rand.Read(jti)
	claims := map[string]any{
		"iss": Issuer, "sub": user, "aud": Service,
		"exp": now.Add(d).Unix(), "nbf": now.Add(-time.Minute).Unix(), "iat": now.Unix(),
		"jti": hex.EncodeToString(jti), "access": acc,
	}
	h, err := json.Marshal(header)
	if err != nil {
		return "", now, err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", now, err
	}
	signing := b64(h) + "." + b64(c)
	sum := sha256.Sum256([]byte(signing))
	r, sv, err := ecdsa.Sign(rand.Reader, s.key, sum[:])
	if err != nil {
		return "", now, err
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	sv.FillBytes(sig[32:])
	tok := signing + "." + b64(sig)
	if s.OnIssue != nil {
		s.OnIssue(tok)
	}
	return tok, now, nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
