package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/docker/distribution/registry/client/auth/challenge"
)

// Sentinels that callers test with errors.Is.
var (
	ErrNotFound     = errors.New("not found")
	ErrUnauthorized = errors.New("unauthorized")
	ErrDenied       = errors.New("denied")
	ErrUnsupported  = errors.New("unsupported")
	// ErrMediaTypeRefused: the registry refused a manifest for its media
	// type (415, or MANIFEST_INVALID saying so), as registries that keep
	// only OCI types (zot without its Docker compatibility) answer Docker
	// manifests.
	ErrMediaTypeRefused = errors.New("media type refused")
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
	// Via is the host that answered when it is not the registry: the
	// registry redirected the request there (a CDN, a presigned URL).
	Via string
	// MediaType is the media type of the manifest a refused PUT sent.
	MediaType string
	// CredentialsFrom, on a 401 to a request that presented credentials,
	// says where they came from (Credentials.From): the error names that
	// rather than suggesting docker login.
	CredentialsFrom string
}

// mediaTypeRefused reports whether the registry refused a manifest for its
// media type: 415, or MANIFEST_INVALID / UNSUPPORTED naming the media type.
func (e *Error) mediaTypeRefused() bool {
	if e.MediaType == "" {
		return false
	}
	msg := strings.ToLower(e.Message)
	return e.Status == http.StatusUnsupportedMediaType ||
		(e.Code == "MANIFEST_INVALID" || e.Code == "UNSUPPORTED") && (strings.Contains(msg, "media type") || strings.Contains(msg, "mediatype"))
}

// Error names the registry, repository and reference, and the registry's
// answer, escaped for a terminal.
func (e *Error) Error() string {
	what := e.Host + "/" + e.Repository
	if e.Reference != "" {
		sep := ":"
		if strings.Contains(e.Reference, ":") {
			sep = "@"
		}
		what += sep + e.Reference
	}
	// Registry-supplied text reaches a terminal: escaped, and kept short.
	msg := escapeText(e.Message, maxMessage)
	if e.Code != "" {
		msg = escapeText(e.Code, 64) + ": " + msg
	}
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	switch {
	case e.Via != "":
		// The registry's own answer was a redirect; the refusal is the other host's.
		return fmt.Sprintf("%s: %s, where %s redirected the request, refused it: %s (HTTP %d)", what, escapeText(e.Via, 100), e.Host, msg, e.Status)
	case e.mediaTypeRefused():
		hint := ""
		if strings.HasPrefix(e.MediaType, "application/vnd.docker.") {
			hint = "; it may take only OCI types: use --media-type oci"
		}
		return fmt.Sprintf("%s: %s refused the media type %s: %s (HTTP %d)%s", what, e.Host, escapeText(e.MediaType, 100), msg, e.Status, hint)
	case e.Scope != "":
		return fmt.Sprintf("%s: denied: the credentials in use are not granted %s by %s", what, escapeText(scopeText(e.Scope, e.Repository), maxMessage), e.Host)
	case e.Status == http.StatusUnauthorized && e.CredentialsFrom != "":
		return fmt.Sprintf("%s: %s rejected the credentials from %s", what, e.Host, e.CredentialsFrom)
	case e.Status == http.StatusUnauthorized:
		return fmt.Sprintf("%s: authentication required or credentials rejected by %s (docker login %s)", what, e.Host, e.Host)
	case e.Status == http.StatusForbidden || e.Code == "DENIED":
		return fmt.Sprintf("%s: access denied by %s", what, e.Host)
	case e.Code == "NAME_UNKNOWN" || (e.Status == http.StatusNotFound && e.Reference == ""):
		return fmt.Sprintf("%s: repository not found on %s", what, e.Host)
	case e.Status == http.StatusNotFound:
		return fmt.Sprintf("%s: not found", what)
	}
	return fmt.Sprintf("%s: %s (HTTP %d)", what, msg, e.Status)
}

// maxMessage bounds the registry text quoted in an error: an error page
// is no place for megabytes of a misbehaving server's output.
const maxMessage = 200

// escapeText makes registry-supplied text safe for a terminal and short:
// control characters (ESC, CR, C1...), bidirectional overrides and invalid
// UTF-8 are written as \xNN or \uNNNN, and text past max runes is cut.
func escapeText(s string, max int) string {
	var b strings.Builder
	runes := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if runes == max {
			b.WriteString("...")
			break
		}
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			fmt.Fprintf(&b, `\x%02x`, r)
		case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
		runes++
		i += size
	}
	return b.String()
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
	case ErrMediaTypeRefused:
		return e.mediaTypeRefused()
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
	if resp.Request != nil && !c.auth.ours(resp.Request.URL) {
		e.Via = resp.Request.URL.Host
	}
	if creds := c.auth.known(); e.Status == http.StatusUnauthorized && e.Scope == "" && creds.presented() {
		e.CredentialsFrom = creds.From
	}
	// An error body is a few hundred bytes; more is not worth reading.
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<10))
	if err != nil || len(b) == 0 {
		return e
	}
	var body struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	switch {
	case json.Unmarshal(b, &body) == nil && len(body.Errors) > 0:
		e.Code = body.Errors[0].Code
		e.Message = body.Errors[0].Message
	case bytes.Contains(b, []byte("<Error>")):
		// S3 and GCS, behind a redirect, answer in XML; read leniently, as
		// the text may hold what an XML parser refuses.
		e.Code, e.Message = xmlElement(b, "Code"), xmlElement(b, "Message")
	case strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain"):
		e.Message = strings.TrimSpace(string(b))
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

// xmlElement returns the text of the first <name> element in b.
func xmlElement(b []byte, name string) string {
	_, rest, ok := bytes.Cut(b, []byte("<"+name+">"))
	if !ok {
		return ""
	}
	text, _, ok := bytes.Cut(rest, []byte("</"+name+">"))
	if !ok {
		return ""
	}
	return html.UnescapeString(string(text))
}
