package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"
)

// RealmError is a token service that could not be reached or did not
// answer as one: the fault is the realm's, not the registry's.
type RealmError struct {
	Realm    string // the realm URL, without its query
	Registry string
	Err      error
	// Answered is set when the realm answered, but not with a token.
	Answered bool
	// Refused is set when the realm was not asked: the registry named one
	// that its credentials may not go to (checkRealm).
	Refused bool
}

// Error names the token realm and what went wrong there.
func (e *RealmError) Error() string {
	if e.Refused {
		return fmt.Sprintf("registry %s names token service %s, refused: %v", e.Registry, escapeText(e.Realm, 200), e.Err)
	}
	if e.Answered {
		return fmt.Sprintf("token service %s for registry %s failed: %v", escapeText(e.Realm, 200), e.Registry, e.Err)
	}
	return fmt.Sprintf("token service %s for registry %s is not reachable: %v", escapeText(e.Realm, 200), e.Registry, scrub(e.Err))
}

// Unwrap returns the realm's failure.
func (e *RealmError) Unwrap() error { return e.Err }

// fetch asks the realm for a token covering t.scopes: an OAuth
// refresh-token grant when an identity token is known, otherwise a GET with
// Basic credentials (or none). A realm that refuses gives an empty token,
// and the caller returns the registry's own 401, which names the registry
// rather than the realm. t.mu is held.
func (t *authTransport) fetch(orig *http.Request) (string, time.Time, error) {
	realm, err := url.Parse(t.realm)
	if err != nil || realm.Host == "" || (realm.Scheme != "https" && realm.Scheme != "http") {
		return "", time.Time{}, fmt.Errorf("registry %s sent an invalid token realm %q", orig.URL.Host, escapeText(t.realm, 200))
	}
	named := url.URL{Scheme: realm.Scheme, Host: realm.Host, Path: realm.Path}
	if err := checkRealm(realm, orig.URL); err != nil {
		return "", time.Time{}, &RealmError{Realm: named.String(), Registry: orig.URL.Host, Err: err, Refused: true}
	}
	creds := t.known()
	t.asked = slices.Clone(t.scopes)
	scopes := scopeStrings(t.scopes)
	realmErr := func(err error) error {
		return &RealmError{Realm: named.String(), Registry: orig.URL.Host, Err: err, Answered: true}
	}
	var req *http.Request
	if creds.IdentityToken != "" {
		form := url.Values{
			"grant_type":    {"refresh_token"},
			"refresh_token": {creds.IdentityToken},
			"client_id":     {"docker-mlist"},
			"service":       {t.service},
			"scope":         {strings.Join(scopes, " ")},
		}
		req, err = http.NewRequestWithContext(orig.Context(), http.MethodPost, realm.String(), strings.NewReader(form.Encode()))
		if err != nil {
			return "", time.Time{}, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		q := realm.Query()
		if t.service != "" {
			q.Set("service", t.service)
		}
		for _, s := range scopes {
			q.Add("scope", s)
		}
		realm.RawQuery = q.Encode()
		req, err = http.NewRequestWithContext(orig.Context(), http.MethodGet, realm.String(), nil)
		if err != nil {
			return "", time.Time{}, err
		}
		if creds.Username != "" {
			req.SetBasicAuth(creds.Username, creds.Password)
		}
	}
	if t.userAgent != "" {
		req.Header.Set("User-Agent", t.userAgent)
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return "", time.Time{}, &RealmError{Realm: named.String(), Registry: orig.URL.Host, Err: err}
	}
	defer drain(resp)
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return "", time.Time{}, nil
	}
	if resp.StatusCode != http.StatusOK {
		return "", time.Time{}, realmErr(fmt.Errorf("HTTP %d", resp.StatusCode))
	}
	var body struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		return "", time.Time{}, realmErr(fmt.Errorf("the answer is not a token: %w", err))
	}
	token := body.Token
	if token == "" {
		token = body.AccessToken
	}
	if token == "" {
		return "", time.Time{}, realmErr(errors.New("the answer holds no token"))
	}
	// Registries that state no lifetime grant at least 60 seconds.
	lifetime := time.Duration(max(body.ExpiresIn, 60)) * time.Second
	return token, time.Now().Add(lifetime - 5*time.Second), nil
}

// checkRealm decides whether credentials may go to the token realm a
// registry reached at reg names, before any request is sent there (as
// go-containerregistry's validateRealmURL does, and a little further):
//
//   - over plain HTTP only when the registry itself was reached over HTTP;
//   - never to a link-local or unspecified address (169.254.0.0/16, where
//     clouds serve instance credentials, fe80::/10, 0.0.0.0, ::);
//   - to a loopback or private address (or the name localhost) only when
//     the registry is on such an address, or on the realm's very host: a
//     public registry must not point the client inward.
//
// Host names other than localhost are judged by name, not resolved: a
// lookup here could answer differently from the one the connection makes.
// The connection itself then refuses a link-local address, whatever name
// led there (refuseLinkLocal).
func checkRealm(realm, reg *url.URL) error {
	if realm.Scheme == "http" && reg.Scheme != "http" {
		return errors.New("its scheme is http while the registry is reached over https; credentials would travel in clear text")
	}
	host := realm.Hostname()
	if strings.EqualFold(host, reg.Hostname()) {
		return nil
	}
	switch addressClass(host) {
	case classLinkLocal:
		return fmt.Errorf("%s is a link-local or unspecified address", host)
	case classNumeric:
		return fmt.Errorf("%s is an address in a non-canonical form", host)
	case classInternal:
		if addressClass(reg.Hostname()) != classInternal {
			return fmt.Errorf("%s is a loopback or private address and registry %s is not", host, reg.Hostname())
		}
	}
	return nil
}

const (
	classPublic = iota
	classInternal
	classLinkLocal
	classNumeric // digits that some resolvers read as an address (2852039166, 0xa9.0xfe.0xa9.0xfe)
)

// addressClass sorts a host: literal addresses by their range, the name
// localhost (and its subdomains, RFC 6761) as loopback, other names public.
func addressClass(host string) int {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return classInternal
	}
	// netip, unlike net.ParseIP, reads an IPv6 address with its zone
	// (fe80::1%eth0).
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	labels := strings.Split(host, ".")
	last := labels[len(labels)-1]
	switch {
	case err != nil && strings.Trim(last, "0123456789abcdefx") == "" && strings.ContainsAny(last, "0123456789"):
		// No top-level domain is numeric: this is an address spelled so
		// that only the resolver knows which.
		return classNumeric
	case err != nil:
		return classPublic
	}
	ip = ip.Unmap()
	switch {
	case ip.IsUnspecified() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast():
		return classLinkLocal
	case ip.IsLoopback() || ip.IsPrivate():
		return classInternal
	}
	return classPublic
}

// refuseLinkLocal is a dialer's Control: it refuses a connection to a
// link-local or unspecified address, the address a name resolved to.
func refuseLinkLocal(_, address string, _ syscall.RawConn) error {
	if host := hostOnly(address); addressClass(host) == classLinkLocal {
		return fmt.Errorf("refusing to connect to %s, a link-local or unspecified address", host)
	}
	return nil
}

// hostOnly is host without its port.
func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}
