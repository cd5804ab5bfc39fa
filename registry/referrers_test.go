package registry_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/docker-mlist/docker-mlist/internal/registrystub"
	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestReferrersTag(t *testing.T) {
	tests := map[string]struct {
		in   digest.Digest
		want string
	}{
		"sha256":                      {digest.Digest("sha256:" + strings.Repeat("ab", 32)), "sha256-" + strings.Repeat("ab", 32)},
		"sha512 cut to 64 hex digits": {digest.Digest("sha512:" + strings.Repeat("cd", 64)), "sha512-" + strings.Repeat("cd", 32)},
		"unsafe characters replaced":  {"a+b:x=y", "a-b-x-y"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := registry.ReferrersTag(tc.in); got != tc.want {
				t.Errorf("ReferrersTag(%s) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}

// pushReferrer stores an artifact manifest whose subject is subject and
// returns its descriptor as a referrers listing shows it.
func pushReferrer(s *registrystub.Stub, repo, subject, artifactType, note string) imgspecv1.Descriptor {
	m := map[string]any{
		"schemaVersion": 2,
		"mediaType":     imgspecv1.MediaTypeImageManifest,
		"artifactType":  artifactType,
		"config":        map[string]any{"mediaType": "application/vnd.oci.empty.v1+json", "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "size": 2},
		"layers":        []any{},
		"subject":       map[string]any{"mediaType": imgspecv1.MediaTypeImageManifest, "digest": subject, "size": 10},
		"annotations":   map[string]string{"note": note},
	}
	raw, _ := json.Marshal(m)
	d := s.PutManifest(repo, "", imgspecv1.MediaTypeImageManifest, raw)
	return imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageManifest, Digest: digest.Digest(d), Size: int64(len(raw)),
		ArtifactType: artifactType, Annotations: map[string]string{"note": note}}
}

func digestsOf(descs []imgspecv1.Descriptor) []string {
	var out []string
	for _, d := range descs {
		out = append(out, d.Digest.String())
	}
	slices.Sort(out)
	return out
}

// TestReferrersAPIPages: a listing split over pages is followed through its
// Link headers and comes back whole, descriptors intact.
func TestReferrersAPIPages(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{ReferrersAPI: true, PageSize: 2})
	subject := digest.FromString("image").String()
	var want []imgspecv1.Descriptor
	for i := range 3 {
		want = append(want, pushReferrer(s, "app", subject, "application/vnd.example.sig", fmt.Sprint(i)))
	}
	pushReferrer(s, "app", digest.FromString("other").String(), "application/vnd.example.sig", "elsewhere")
	c := registry.New(s.Host, nil, registry.Options{Insecure: true})

	got, err := c.ReferrersAPI(context.Background(), "app", digest.Digest(subject))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(digestsOf(got), digestsOf(want)) {
		t.Errorf("referrers %v, want %v", digestsOf(got), digestsOf(want))
	}
	for _, d := range got {
		if d.ArtifactType != "application/vnd.example.sig" || d.Annotations["note"] == "" || d.Size == 0 {
			t.Errorf("descriptor %+v lost its artifactType, annotations or size", d)
		}
	}
	if n := s.Count(http.MethodGet, "/referrers/"); n != 2 {
		t.Errorf("%d referrers requests, want 2 (two pages):\n%s", n, strings.Join(s.Requests(), "\n"))
	}
	if n := s.Count(http.MethodGet, "/referrers/"+subject+"?page=1"); n != 1 {
		t.Errorf("the second page was not asked for through the Link:\n%s", strings.Join(s.Requests(), "\n"))
	}
}

// TestReferrersTagFallback: where the API is a 404, Referrers reads the
// tag-schema index, and a subject without one has no referrers.
func TestReferrersTagFallback(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	subject := digest.FromString("image")
	ref := pushReferrer(s, "app", subject.String(), "application/vnd.example.sbom", "x")
	idx, _ := json.Marshal(imgspecv1.Index{MediaType: imgspecv1.MediaTypeImageIndex, Manifests: []imgspecv1.Descriptor{ref}})
	s.PutManifest("app", registry.ReferrersTag(subject), imgspecv1.MediaTypeImageIndex, idx)
	c := registry.New(s.Host, nil, registry.Options{Insecure: true})
	ctx := context.Background()

	if _, err := c.ReferrersAPI(ctx, "app", subject); !errors.Is(err, registry.ErrNoReferrersAPI) {
		t.Fatalf("ReferrersAPI error = %v, want ErrNoReferrersAPI", err)
	}
	got, err := c.Referrers(ctx, "app", subject)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Digest != ref.Digest || got[0].ArtifactType != ref.ArtifactType {
		t.Errorf("Referrers = %+v, want %+v", got, ref)
	}
	none, err := c.Referrers(ctx, "app", digest.FromString("unsigned"))
	if err != nil || len(none) != 0 {
		t.Errorf("Referrers of a subject without index = %v, %v; want none", none, err)
	}
}

// TestReferrersHostile: a listing whose Link never ends stops after
// MaxReferrerPages requests with an error; a descriptor whose digest is
// not one is refused, since digests go into request paths.
func TestReferrersHostile(t *testing.T) {
	tests := map[string]struct {
		body     string
		link     bool
		wantErr  string
		wantHits int32
	}{
		"endless Link": {body: `{"schemaVersion":2,"manifests":[]}`, link: true, wantErr: "pages", wantHits: registry.MaxReferrerPages},
		"bad digest": {body: `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"../../x","size":1}]}`,
			wantErr: "invalid digest", wantHits: 1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var hits atomic.Int32
			srv := registrystub.Serve(t, registrystub.Options{}, func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				if tc.link {
					w.Header().Set("Link", fmt.Sprintf(`<%s?page=%d>; rel="next"`, r.URL.Path, hits.Load()))
				}
				_, _ = w.Write([]byte(tc.body))
			})
			c := registry.New(srv.Host, nil, registry.Options{Insecure: true})
			_, err := c.ReferrersAPI(context.Background(), "app", digest.FromString("image"))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error = %v, want one about %q", err, tc.wantErr)
			}
			if got := hits.Load(); got != tc.wantHits {
				t.Errorf("server saw %d requests, want %d", got, tc.wantHits)
			}
		})
	}
}

// TestAddReferrersByTag: the tag-schema index is created, or updated
// keeping what it lists (annotations included) with no duplicate, and not
// written at all when nothing is new.
func TestAddReferrersByTag(t *testing.T) {
	subject := digest.FromString("image")
	a := imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageManifest, Digest: digest.FromString("a"), Size: 1, ArtifactType: "application/vnd.example.sig"}
	b := imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageManifest, Digest: digest.FromString("b"), Size: 2, ArtifactType: "application/vnd.example.sbom"}
	kept := imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageManifest, Digest: digest.FromString("kept"), Size: 3,
		Annotations: map[string]string{"org.opencontainers.image.created": "2024-01-01T00:00:00Z"}}
	tests := map[string]struct {
		existing  []imgspecv1.Descriptor // nil: no index yet
		add       []imgspecv1.Descriptor
		wantAdded int
		want      []imgspecv1.Descriptor
		wantPut   bool
	}{
		"new index":          {add: []imgspecv1.Descriptor{a, b}, wantAdded: 2, want: []imgspecv1.Descriptor{a, b}, wantPut: true},
		"merged":             {existing: []imgspecv1.Descriptor{kept, a}, add: []imgspecv1.Descriptor{a, b}, wantAdded: 1, want: []imgspecv1.Descriptor{kept, a, b}, wantPut: true},
		"nothing new":        {existing: []imgspecv1.Descriptor{a, b}, add: []imgspecv1.Descriptor{b, a}, want: []imgspecv1.Descriptor{a, b}},
		"duplicates in add":  {add: []imgspecv1.Descriptor{a, a}, wantAdded: 1, want: []imgspecv1.Descriptor{a}, wantPut: true},
		"empty index filled": {existing: []imgspecv1.Descriptor{}, add: []imgspecv1.Descriptor{b}, wantAdded: 1, want: []imgspecv1.Descriptor{b}, wantPut: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := registrystub.Start(t, registrystub.Options{})
			// The referrers the index lists are there, as a registry
			// checks an index's entries.
			for _, content := range []string{"a", "b", "kept"} {
				s.PutManifest("app", "", imgspecv1.MediaTypeImageManifest, []byte(content))
			}
			tag := registry.ReferrersTag(subject)
			if tc.existing != nil {
				ix := imgspecv1.Index{MediaType: imgspecv1.MediaTypeImageIndex, Manifests: tc.existing, Annotations: map[string]string{"kept": "yes"}}
				ix.SchemaVersion = 2
				raw, _ := json.Marshal(ix)
				s.PutManifest("app", tag, imgspecv1.MediaTypeImageIndex, raw)
			}
			c := registry.New(s.Host, nil, registry.Options{Insecure: true})
			added, err := c.AddReferrersByTag(context.Background(), "app", subject, tc.add)
			if err != nil {
				t.Fatal(err)
			}
			if added != tc.wantAdded {
				t.Errorf("added %d, want %d", added, tc.wantAdded)
			}
			if puts := s.Count(http.MethodPut, "/manifests/"+tag); (puts > 0) != tc.wantPut {
				t.Errorf("%d PUTs of the index, want a PUT: %v", puts, tc.wantPut)
			}
			raw, ok := s.Manifest("app", tag)
			if !ok {
				t.Fatal("no index at the tag")
			}
			var got imgspecv1.Index
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatal(err)
			}
			if got.SchemaVersion != 2 || got.MediaType != imgspecv1.MediaTypeImageIndex {
				t.Errorf("index schemaVersion %d mediaType %q", got.SchemaVersion, got.MediaType)
			}
			if tc.existing != nil && got.Annotations["kept"] != "yes" {
				t.Errorf("the index lost its annotations: %v", got.Annotations)
			}
			if len(got.Manifests) != len(tc.want) {
				t.Fatalf("index lists %d manifests, want %d: %s", len(got.Manifests), len(tc.want), raw)
			}
			for i, d := range got.Manifests {
				w := tc.want[i]
				if d.Digest != w.Digest || d.Size != w.Size || d.ArtifactType != w.ArtifactType || !maps.Equal(d.Annotations, w.Annotations) {
					t.Errorf("entry %d = %+v, want %+v", i, d, w)
				}
			}
		})
	}
}

// TestAddReferrersByTagNotAnIndex: a tag of that name holding something
// else is not overwritten.
func TestAddReferrersByTagNotAnIndex(t *testing.T) {
	s := registrystub.Start(t, registrystub.Options{})
	subject := digest.FromString("image")
	tag := registry.ReferrersTag(subject)
	s.PutManifest("app", tag, imgspecv1.MediaTypeImageManifest, []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}`))
	c := registry.New(s.Host, nil, registry.Options{Insecure: true})
	_, err := c.AddReferrersByTag(context.Background(), "app", subject, []imgspecv1.Descriptor{{MediaType: imgspecv1.MediaTypeImageManifest, Digest: digest.FromString("a"), Size: 1}})
	if err == nil || !strings.Contains(err.Error(), "media type") {
		t.Errorf("error = %v, want a refusal naming the media type", err)
	}
	if n := s.Count(http.MethodPut, "/manifests/"); n != 0 {
		t.Errorf("%d PUTs, want none", n)
	}
}
