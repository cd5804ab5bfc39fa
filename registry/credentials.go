package registry

import (
	"errors"
	"fmt"
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
