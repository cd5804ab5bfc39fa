package registry

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
)

// CredentialsError is a failure to obtain the registry's credentials (a
// credential helper that did not answer): the fault is the helper's, not the
// registry's, and sending the request again would not mend it.
type CredentialsError struct {
	Registry string
	Err      error
}

func (e *CredentialsError) Error() string {
	return fmt.Sprintf("credentials for %s: %v", e.Registry, e.Err)
}

// credentials returns the registry's credentials, looking them up the first
// time they are needed: only a registry that answered with a challenge
// costs a credential helper run.
func (t *authTransport) credentials() (Credentials, error) {
	t.credMu.Lock()
	defer t.credMu.Unlock()
	if !t.looked {
		t.looked = true
		creds, err := t.lookup()
		if err != nil {
			t.lookErr = &CredentialsError{Registry: t.host, Err: err}
		}
		t.creds = creds
	}
	return t.creds, t.lookErr
}

// known returns the credentials given or looked up so far, without looking.
func (t *authTransport) known() Credentials {
	t.credMu.Lock()
	defer t.credMu.Unlock()
	return t.creds
}

// mayPresent reports whether the client has, or may find on a challenge,
// credentials to present.
func (t *authTransport) mayPresent() bool {
	t.credMu.Lock()
	defer t.credMu.Unlock()
	return !t.looked || t.creds.Username != "" || t.creds.IdentityToken != ""
}

// ownError finds, in an error from http.Client, a failure that is not the
// registry's connection: a token service or credentials.
func ownError(err error) error {
	var realm *RealmError
	if errors.As(err, &realm) {
		return realm
	}
	var creds *CredentialsError
	if errors.As(err, &creds) {
		return creds
	}
	return nil
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
