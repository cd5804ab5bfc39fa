package harness

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ClientOptions configure a direct registry client.
type ClientOptions struct {
	TLS                bool
	RootCAs            *x509.CertPool // nil: system roots
	InsecureSkipVerify bool
	Username           string
	Password           string
}

// Client is a minimal registry API v2 client over plain net/http. It answers
// Basic and Bearer challenges, which covers htpasswd and token registries.
type Client struct {
	Host   string
	scheme string
	user   string
	pass   string
	http   *http.Client

	mu     sync.Mutex
	basic  bool              // the registry asked for Basic once; send it up front
	tokens map[string]string // scope -> bearer token
}

// NewClient returns a client for host ("127.0.0.1:PORT").
func NewClient(host string, opts ClientOptions) *Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	scheme := "http"
	if opts.TLS {
		scheme = "https"
		t.TLSClientConfig = &tls.Config{RootCAs: opts.RootCAs, InsecureSkipVerify: opts.InsecureSkipVerify}
	}
	return &Client{
		Host: host, scheme: scheme, user: opts.Username, pass: opts.Password,
		http:   &http.Client{Transport: t, Timeout: 60 * time.Second},
		tokens: map[string]string{},
	}
}

// Manifest is a manifest as the registry served it. Status is the HTTP
// status; the other fields are empty unless it is 200.
type Manifest struct {
	Status    int
	MediaType string // Content-Type
	Digest    string // Docker-Content-Digest, else computed from Raw
	Size      int64
	Raw       []byte // nil for HEAD
}

// Index decodes a manifest list or OCI index.
func (m Manifest) Index() (Index, error) {
	var ix Index
	if err := json.Unmarshal(m.Raw, &ix); err != nil {
		return Index{}, fmt.Errorf("decoding %s: %w", m.MediaType, err)
	}
	return ix, nil
}

// ImageManifest decodes a single-image manifest (v2s2 or OCI).
func (m Manifest) ImageManifest() (ImageManifest, error) {
	var im ImageManifest
	if err := json.Unmarshal(m.Raw, &im); err != nil {
		return ImageManifest{}, fmt.Errorf("decoding %s: %w", m.MediaType, err)
	}
	return im, nil
}

// IsList reports whether the manifest is a Docker manifest list or OCI index.
func (m Manifest) IsList() bool {
	return m.MediaType == MediaTypeDockerList || m.MediaType == MediaTypeOCIIndex
}

// Ping does GET /v2/ and returns the status.
func (c *Client) Ping() (int, error) {
	resp, _, err := c.do(http.MethodGet, "/v2/", "", nil, nil)
	if err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

// GetManifest fetches repo:ref (tag or digest), accepting every list and
// image media type. A registry error is reported in Status, not as err.
func (c *Client) GetManifest(repo, ref string) (Manifest, error) {
	return c.manifest(http.MethodGet, repo, ref)
}

// HeadManifest is GetManifest without the body.
func (c *Client) HeadManifest(repo, ref string) (Manifest, error) {
	return c.manifest(http.MethodHead, repo, ref)
}

func (c *Client) manifest(method, repo, ref string) (Manifest, error) {
	h := http.Header{"Accept": {MediaTypeOCIIndex, MediaTypeDockerList, MediaTypeOCIManifest, MediaTypeDockerManifest}}
	resp, body, err := c.do(method, "/v2/"+repo+"/manifests/"+ref, pullScope(repo), h, nil)
	if err != nil {
		return Manifest{}, err
	}
	m := Manifest{Status: resp.StatusCode}
	if resp.StatusCode != http.StatusOK {
		return m, nil
	}
	m.MediaType = resp.Header.Get("Content-Type")
	m.Digest = resp.Header.Get("Docker-Content-Digest")
	m.Size, _ = strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64)
	if method == http.MethodGet {
		m.Raw = body
		m.Size = int64(len(body))
		if m.Digest == "" {
			m.Digest = Digest(body)
		}
	}
	return m, nil
}

// PutManifest uploads raw as repo:ref and returns the digest the registry
// reports.
func (c *Client) PutManifest(repo, ref, mediaType string, raw []byte) (string, error) {
	resp, body, err := c.do(http.MethodPut, "/v2/"+repo+"/manifests/"+ref, pushScope(repo),
		http.Header{"Content-Type": {mediaType}}, raw)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("PUT %s/manifests/%s: %s: %s", repo, ref, resp.Status, body)
	}
	d := resp.Header.Get("Docker-Content-Digest")
	if d == "" {
		d = Digest(raw)
	}
	return d, nil
}

// DeleteManifest deletes repo@digest and returns the status (202 when
// deleted, 405 when the registry has deletes disabled).
func (c *Client) DeleteManifest(repo, digest string) (int, error) {
	resp, _, err := c.do(http.MethodDelete, "/v2/"+repo+"/manifests/"+digest, "repository:"+repo+":delete,pull,push", nil, nil)
	if err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

// BlobExists does HEAD /v2/<repo>/blobs/<digest>.
func (c *Client) BlobExists(repo, digest string) (bool, error) {
	resp, _, err := c.do(http.MethodHead, "/v2/"+repo+"/blobs/"+digest, pullScope(repo), nil, nil)
	if err != nil {
		return false, err
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, fmt.Errorf("HEAD %s/blobs/%s: %s", repo, digest, resp.Status)
}

// GetBlob downloads a blob.
func (c *Client) GetBlob(repo, digest string) ([]byte, error) {
	resp, body, err := c.do(http.MethodGet, "/v2/"+repo+"/blobs/"+digest, pullScope(repo), nil, nil)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s/blobs/%s: %s", repo, digest, resp.Status)
	}
	return body, nil
}

// PushBlob uploads data monolithically (POST, then PUT ?digest=) unless the
// repository has it already, and returns its digest.
func (c *Client) PushBlob(repo string, data []byte) (string, error) {
	d := Digest(data)
	if ok, err := c.BlobExists(repo, d); err != nil || ok {
		return d, err
	}
	resp, body, err := c.do(http.MethodPost, "/v2/"+repo+"/blobs/uploads/", pushScope(repo), nil, nil)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusAccepted {
		return "", fmt.Errorf("POST %s/blobs/uploads/: %s: %s", repo, resp.Status, body)
	}
	loc, err := c.location(resp, "digest", d)
	if err != nil {
		return "", err
	}
	resp, body, err = c.do(http.MethodPut, loc, pushScope(repo), http.Header{"Content-Type": {"application/octet-stream"}}, data)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("PUT upload of %s to %s: %s: %s", d, repo, resp.Status, body)
	}
	return d, nil
}

// MountBlob asks for a cross-repository mount of digest from repo from into
// repo and reports whether the registry mounted it (201) rather than opening
// an upload (202).
func (c *Client) MountBlob(repo, from, digest string) (bool, error) {
	q := url.Values{"mount": {digest}, "from": {from}}
	resp, body, err := c.do(http.MethodPost, "/v2/"+repo+"/blobs/uploads/?"+q.Encode(),
		pushScope(repo)+" "+pullScope(from), nil, nil)
	if err != nil {
		return false, err
	}
	switch resp.StatusCode {
	case http.StatusCreated:
		return true, nil
	case http.StatusAccepted:
		return false, nil
	}
	return false, fmt.Errorf("mounting %s from %s into %s: %s: %s", digest, from, repo, resp.Status, body)
}

// Tags lists the tags of repo (nil when the repository does not exist).
func (c *Client) Tags(repo string) ([]string, error) {
	resp, body, err := c.do(http.MethodGet, "/v2/"+repo+"/tags/list", pullScope(repo), nil, nil)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s/tags/list: %s: %s", repo, resp.Status, body)
	}
	var tl struct {
		Tags []string `json:"tags"`
	}
	if err := json.Unmarshal(body, &tl); err != nil {
		return nil, err
	}
	return tl.Tags, nil
}

func pullScope(repo string) string { return "repository:" + repo + ":pull" }
func pushScope(repo string) string { return "repository:" + repo + ":pull,push" }

func (c *Client) location(resp *http.Response, key, value string) (string, error) {
	loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
	if err != nil {
		return "", fmt.Errorf("bad upload Location %q: %w", resp.Header.Get("Location"), err)
	}
	q := loc.Query()
	q.Set(key, value)
	loc.RawQuery = q.Encode()
	return loc.String(), nil
}

// do sends a request to pathOrURL (a path below the registry root, or an
// absolute URL from a Location header), answering one auth challenge.
func (c *Client) do(method, pathOrURL, scope string, h http.Header, body []byte) (*http.Response, []byte, error) {
	u := pathOrURL
	if strings.HasPrefix(u, "/") {
		u = c.scheme + "://" + c.Host + u
	}
	send := func() (*http.Response, []byte, error) {
		req, err := http.NewRequest(method, u, bytes.NewReader(body))
		if err != nil {
			return nil, nil, err
		}
		for k, v := range h {
			req.Header[k] = v
		}
		if body != nil {
			req.ContentLength = int64(len(body))
		}
		c.authorize(req, scope)
		resp, err := c.http.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, b, err
	}
	resp, b, err := send()
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, b, err
	}
	if retry, err := c.answer(resp.Header.Get("WWW-Authenticate"), scope); err != nil || !retry {
		return resp, b, err
	}
	return send()
}

func (c *Client) authorize(req *http.Request, scope string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if tok, ok := c.tokens[scope]; ok {
		req.Header.Set("Authorization", "Bearer "+tok)
	} else if c.basic {
		req.SetBasicAuth(c.user, c.pass)
	}
}

// answer handles a WWW-Authenticate challenge and reports whether retrying
// can help.
func (c *Client) answer(challenge, scope string) (bool, error) {
	scheme, params := parseChallenge(challenge)
	switch strings.ToLower(scheme) {
	case "basic":
		if c.user == "" {
			return false, nil
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.basic {
			return false, nil // the credentials were already refused
		}
		c.basic = true
		return true, nil
	case "bearer":
		tok, err := c.fetchToken(params, scope)
		if err != nil {
			return false, err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.tokens[scope] == tok {
			return false, nil
		}
		c.tokens[scope] = tok
		return true, nil
	}
	return false, nil
}

func (c *Client) fetchToken(params map[string]string, scope string) (string, error) {
	realm, err := url.Parse(params["realm"])
	if err != nil || params["realm"] == "" {
		return "", fmt.Errorf("bearer challenge without a usable realm: %v", params)
	}
	q := realm.Query()
	if s := params["service"]; s != "" {
		q.Set("service", s)
	}
	for _, s := range strings.Fields(scope) {
		q.Add("scope", s)
	}
	realm.RawQuery = q.Encode()
	req, err := http.NewRequest(http.MethodGet, realm.String(), nil)
	if err != nil {
		return "", err
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("token request to %s: %s: %s", realm.Host, resp.Status, body)
	}
	var tr struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tr); err != nil {
		return "", err
	}
	if tr.Token != "" {
		return tr.Token, nil
	}
	return tr.AccessToken, nil
}

// parseChallenge splits `Bearer realm="…",service="…"`.
func parseChallenge(h string) (string, map[string]string) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	params := map[string]string{}
	for rest != "" {
		rest = strings.TrimLeft(rest, " ,")
		k, v, ok := strings.Cut(rest, "=")
		if !ok {
			break
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if strings.HasPrefix(v, `"`) {
			end := strings.Index(v[1:], `"`)
			if end < 0 {
				params[k] = v[1:]
				break
			}
			params[k], rest = v[1:end+1], v[end+2:]
		} else {
			val, r, _ := strings.Cut(v, ",")
			params[k], rest = strings.TrimSpace(val), r
		}
	}
	return scheme, params
}

// Digest returns the sha256 digest of data ("sha256:…").
func Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}
