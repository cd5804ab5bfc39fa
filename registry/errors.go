package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Sentinels that callers test with errors.Is.
var (
	ErrNotFound     = errors.New("not found")
	ErrUnauthorized = errors.New("unauthorized")
	ErrDenied       = errors.New("denied")
	ErrUnsupported  = errors.New("unsupported")
)

// Error is a registry's answer to a request that failed.
type Error struct {
	Host, Repository, Reference string
	Status                      int
	Code                        string // the first error code the registry sent, e.g. MANIFEST_UNKNOWN
	Message                     string
}

func (e *Error) Error() string {
	what := e.Host + "/" + e.Repository
	if e.Reference != "" {
		sep := ":"
		if strings.Contains(e.Reference, ":") {
			sep = "@"
		}
		what += sep + e.Reference
	}
	switch {
	case e.Status == http.StatusUnauthorized:
		return fmt.Sprintf("%s: authentication required or credentials rejected by %s (docker login %s)", what, e.Host, e.Host)
	case e.Status == http.StatusForbidden || e.Code == "DENIED":
		return fmt.Sprintf("%s: access denied by %s", what, e.Host)
	case e.Status == http.StatusNotFound:
		return fmt.Sprintf("%s: not found", what)
	}
	msg := e.Message
	if e.Code != "" {
		msg = e.Code + ": " + msg
	}
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("%s: %s (HTTP %d)", what, msg, e.Status)
}

// Is maps HTTP statuses and registry codes onto the package sentinels.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Status == http.StatusNotFound || e.Code == "MANIFEST_UNKNOWN" || e.Code == "NAME_UNKNOWN" || e.Code == "BLOB_UNKNOWN"
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized
	case ErrDenied:
		return e.Status == http.StatusForbidden || e.Code == "DENIED"
	case ErrUnsupported:
		return e.Status == http.StatusMethodNotAllowed || e.Code == "UNSUPPORTED"
	}
	return false
}

func (c *Client) statusError(resp *http.Response, repo, ref string) error {
	e := &Error{Host: c.Host, Repository: repo, Reference: ref, Status: resp.StatusCode}
	var body struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10)); err == nil && json.Unmarshal(b, &body) == nil && len(body.Errors) > 0 {
		e.Code = body.Errors[0].Code
		e.Message = body.Errors[0].Message
	}
	return e
}
