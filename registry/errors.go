package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/docker/distribution/registry/client/auth/challenge"
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
	// Scope is set when a token registry answered 401 with
	// error="insufficient_scope": the credentials are valid but the token
	// does not grant this scope ("repository:team/app:pull,push").
	Scope string
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
	case e.Scope != "":
		return fmt.Sprintf("%s: denied: the credentials in use are not granted %s by %s", what, scopeText(e.Scope, e.Repository), e.Host)
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
		return e.Status == http.StatusUnauthorized && e.Scope == ""
	case ErrDenied:
		return e.Status == http.StatusForbidden || e.Code == "DENIED" || e.Scope != ""
	case ErrUnsupported:
		return e.Status == http.StatusMethodNotAllowed || e.Code == "UNSUPPORTED"
	}
	return false
}

// scopeText turns "repository:team/app:pull,push" into "pull,push access to
// team/app".
func scopeText(scope, repo string) string {
	// The challenge may list several scopes (a mount also needs pull on
	// its source); the one of the request's repository is the one refused.
	scopes := strings.Fields(scope)
	if len(scopes) > 1 {
		var texts []string
		for _, s := range scopes {
			if strings.HasPrefix(s, "repository:"+repo+":") {
				return scopeText(s, repo)
			}
			texts = append(texts, scopeText(s, repo))
		}
		return strings.Join(texts, " and ")
	}
	parts := strings.Split(scope, ":")
	if len(parts) < 3 {
		return "the scope " + scope
	}
	what := "access to " + strings.Join(parts[1:len(parts)-1], ":")
	if actions := parts[len(parts)-1]; actions != "" {
		// Registries build the list from a set, in no fixed order.
		list := strings.Split(actions, ",")
		slices.SortFunc(list, func(a, b string) int { return actionRank(a) - actionRank(b) })
		what = strings.Join(list, ",") + " " + what
	}
	return what
}

func (c *Client) statusError(resp *http.Response, repo, ref string) error {
	e := &Error{Host: c.Host, Repository: repo, Reference: ref, Status: resp.StatusCode}
	for _, ch := range challenge.ResponseChallenges(resp) {
		if ch.Scheme == "bearer" && ch.Parameters["error"] == "insufficient_scope" {
			e.Scope = ch.Parameters["scope"]
			if e.Scope == "" {
				e.Scope = "repository:" + repo + ":"
			}
		}
	}
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

// actionRank orders scope actions the way people write them: pull,push,delete.
func actionRank(a string) int {
	switch a {
	case "pull":
		return 0
	case "push":
		return 1
	case "delete":
		return 2
	}
	return 3
}
