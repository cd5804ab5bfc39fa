package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"

	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// ErrNoReferrersAPI is returned where a registry does not serve the OCI
// referrers API (distribution 2.8 and 3.x among them); clients then use the
// referrers tag schema.
var ErrNoReferrersAPI = errors.New("the registry has no referrers API")

// MaxReferrerPages bounds the pages of one referrers listing, so a registry
// whose Link never ends cannot hold a command forever.
const MaxReferrerPages = 64

// maxReferrersIndex bounds one page, or one tag-schema index, in bytes.
const maxReferrersIndex = 8 << 20

// tagUnsafe are the characters the referrers tag schema replaces with "-".
var tagUnsafe = regexp.MustCompile(`[^a-zA-Z0-9._-]`)

// ReferrersTag is the tag under which the referrers tag schema (OCI
// distribution-spec 1.1) keeps the index of what refers to d:
// "sha256-<hex>", the algorithm cut to 32 characters and the hex to 64.
func ReferrersTag(d digest.Digest) string {
	alg := tagUnsafe.ReplaceAllString(d.Algorithm().String(), "-")
	enc := tagUnsafe.ReplaceAllString(d.Encoded(), "-")
	return fmt.Sprintf("%.32s-%.64s", alg, enc)
}

// Referrers lists the manifests whose subject is d: through the OCI
// referrers API, or, on a registry without it, from the tag-schema index
// (none when that tag does not exist either).
func (c *Client) Referrers(ctx context.Context, repo string, d digest.Digest) ([]imgspecv1.Descriptor, error) {
	refs, err := c.ReferrersAPI(ctx, repo, d)
	if errors.Is(err, ErrNoReferrersAPI) {
		return c.ReferrersByTag(ctx, repo, d)
	}
	return refs, err
}

// ReferrersAPI lists the manifests whose subject is d through the OCI
// referrers API, following the Link header from page to page (at most
// MaxReferrerPages). It returns ErrNoReferrersAPI when the registry does not
// serve the API: the spec forbids a 404 from one that does, even for an
// unknown subject.
func (c *Client) ReferrersAPI(ctx context.Context, repo string, d digest.Digest) ([]imgspecv1.Descriptor, error) {
	next := c.url(repo, "referrers", d.String())
	var out []imgspecv1.Descriptor
	for page := 0; next != ""; page++ {
		if page == MaxReferrerPages {
			return nil, fmt.Errorf("referrers of %s/%s@%s: more than %d pages; stopped", c.Host, repo, d, MaxReferrerPages)
		}
		resp, err := c.do(ctx, http.MethodGet, next, nil, http.Header{"Accept": {imgspecv1.MediaTypeImageIndex}})
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			err := c.statusError(resp, repo, d.String())
			resp.Body.Close()
			// Some registries without the API answer 400 or 405 rather than 404.
			if page == 0 && (resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed || resp.StatusCode == http.StatusBadRequest) {
				return nil, ErrNoReferrersAPI
			}
			return nil, fmt.Errorf("referrers API: %w", err)
		}
		descs, err := decodeIndex(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("referrers of %s/%s@%s: %w", c.Host, repo, d, err)
		}
		out = append(out, descs...)
		next = ""
		if link := parseLink(resp.Header.Get("Link")); link != "" {
			if next, err = c.resolve(link); err != nil {
				return nil, fmt.Errorf("referrers of %s/%s@%s: bad Link header: %w", c.Host, repo, d, err)
			}
		}
	}
	return out, nil
}

// ReferrersByTag reads the referrers tag-schema index of d in repo: none
// when the tag does not exist.
func (c *Client) ReferrersByTag(ctx context.Context, repo string, d digest.Digest) ([]imgspecv1.Descriptor, error) {
	idx, err := c.referrersIndex(ctx, repo, d)
	if err != nil {
		return nil, err
	}
	return idx.Manifests, nil
}

// AddReferrersByTag records descs as referrers of subject in repo's
// tag-schema index, for registries without the referrers API: the index is
// created, or updated keeping every descriptor it already lists, and written
// only when something is new. It returns how many descriptors were added.
//
// Two clients updating the same index at once can lose each other's entry,
// as with every client of the tag schema: the registry offers no
// compare-and-swap on tags.
func (c *Client) AddReferrersByTag(ctx context.Context, repo string, subject digest.Digest, descs []imgspecv1.Descriptor) (int, error) {
	idx, err := c.referrersIndex(ctx, repo, subject)
	if err != nil {
		return 0, err
	}
	have := map[digest.Digest]bool{}
	for _, m := range idx.Manifests {
		have[m.Digest] = true
	}
	added := 0
	for _, m := range descs {
		if !have[m.Digest] {
			have[m.Digest] = true
			idx.Manifests = append(idx.Manifests, m)
			added++
		}
	}
	if added == 0 {
		return 0, nil
	}
	idx.SchemaVersion = 2
	raw, err := json.Marshal(idx)
	if err != nil {
		return 0, err
	}
	if _, err := c.PutManifest(ctx, repo, ReferrersTag(subject), raw, imgspecv1.MediaTypeImageIndex); err != nil {
		return 0, err // it names the index's tag
	}
	return added, nil
}

// referrersIndex reads the tag-schema index of subject, or an empty one
// when the tag does not exist.
func (c *Client) referrersIndex(ctx context.Context, repo string, subject digest.Digest) (imgspecv1.Index, error) {
	idx := imgspecv1.Index{MediaType: imgspecv1.MediaTypeImageIndex, Manifests: []imgspecv1.Descriptor{}}
	idx.SchemaVersion = 2
	tag := ReferrersTag(subject)
	raw, _, err := c.GetManifest(ctx, repo, tag)
	if errors.Is(err, ErrNotFound) {
		return idx, nil
	}
	if err != nil {
		return idx, err
	}
	if err := json.Unmarshal(raw, &idx); err != nil {
		return idx, fmt.Errorf("referrers index %s/%s:%s: %w", c.Host, repo, tag, err)
	}
	if idx.MediaType != imgspecv1.MediaTypeImageIndex {
		return idx, fmt.Errorf("referrers index %s/%s:%s: media type %q, want %s", c.Host, repo, tag, idx.MediaType, imgspecv1.MediaTypeImageIndex)
	}
	if err := checkDescriptors(idx.Manifests); err != nil {
		return idx, fmt.Errorf("referrers index %s/%s:%s: %w", c.Host, repo, tag, err)
	}
	if idx.Manifests == nil {
		idx.Manifests = []imgspecv1.Descriptor{}
	}
	return idx, nil
}

// decodeIndex reads a page of the referrers API.
func decodeIndex(r io.Reader) ([]imgspecv1.Descriptor, error) {
	var idx imgspecv1.Index
	if err := json.NewDecoder(io.LimitReader(r, maxReferrersIndex)).Decode(&idx); err != nil {
		return nil, err
	}
	return idx.Manifests, checkDescriptors(idx.Manifests)
}

// checkDescriptors refuses descriptors whose digest is not one: the digest
// goes into request paths.
func checkDescriptors(descs []imgspecv1.Descriptor) error {
	for _, m := range descs {
		if err := m.Digest.Validate(); err != nil {
			return fmt.Errorf("descriptor with invalid digest %q: %w", m.Digest, err)
		}
	}
	return nil
}
