package harness

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// MediaTypeOCIEmpty is the OCI empty descriptor's media type, the config of
// artifacts that have none.
const MediaTypeOCIEmpty = "application/vnd.oci.empty.v1+json"

// Referrer is an OCI artifact manifest with a subject, as cosign (OCI
// mode), notation and ORAS push them.
type Referrer struct {
	Repo         string
	Digest       string
	ArtifactType string
	Raw          []byte
	Blobs        []string // the digests of its config and layer
}

// PushReferrer pushes, by digest, an OCI image manifest of artifactType
// whose subject is subject (a manifest in repo): an empty config and one
// small random layer. The referrers API of a registry that has one then
// lists it for subject.Digest.
func (c *Client) PushReferrer(repo string, subject Descriptor, artifactType string) (Referrer, error) {
	empty := []byte("{}")
	cfg, err := c.PushBlob(repo, empty)
	if err != nil {
		return Referrer{}, err
	}
	_, payload, err := randomLayer(0, 64)
	if err != nil {
		return Referrer{}, err
	}
	layer, err := c.PushBlob(repo, payload)
	if err != nil {
		return Referrer{}, err
	}
	m := map[string]any{
		"schemaVersion": 2,
		"mediaType":     MediaTypeOCIManifest,
		"artifactType":  artifactType,
		"config":        Descriptor{MediaType: MediaTypeOCIEmpty, Digest: cfg, Size: int64(len(empty))},
		"layers":        []Descriptor{{MediaType: "application/octet-stream", Digest: layer, Size: int64(len(payload))}},
		"subject":       Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size},
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return Referrer{}, err
	}
	d, err := c.PutManifest(repo, Digest(raw), MediaTypeOCIManifest, raw)
	if err != nil {
		return Referrer{}, err
	}
	return Referrer{Repo: repo, Digest: d, ArtifactType: artifactType, Raw: raw, Blobs: []string{cfg, layer}}, nil
}

// Referrers asks the OCI referrers API of repo for what refers to digest. It
// returns the HTTP status (404 on registries without the API, and on some
// for a repository that does not exist) and, on 200, the index.
func (c *Client) Referrers(repo, digest string) (int, Index, error) {
	resp, body, err := c.do(http.MethodGet, "/v2/"+repo+"/referrers/"+digest, pullScope(repo),
		http.Header{"Accept": {MediaTypeOCIIndex}}, nil)
	if err != nil {
		return 0, Index{}, err
	}
	var ix Index
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, &ix); err != nil {
			return resp.StatusCode, ix, fmt.Errorf("referrers of %s@%s: %w", repo, digest, err)
		}
	}
	return resp.StatusCode, ix, nil
}
