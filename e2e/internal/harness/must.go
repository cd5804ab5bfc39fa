package harness

import "testing"

// PushImage is Client().PushImage that fails tb on error.
func (r *Registry) PushImage(tb testing.TB, repo, tag, platform string, opts ImageOptions) Image {
	tb.Helper()
	img, err := r.admin.PushImage(repo, tag, platform, opts)
	if err != nil {
		tb.Fatalf("pushing %s image %s: %v", platform, r.Ref(repo+":"+tag), err)
	}
	return img
}

// PushImages pushes one image per platform, tagged <tagPrefix>-<os>-<arch>[-<variant>].
func (r *Registry) PushImages(tb testing.TB, repo, tagPrefix string, opts ImageOptions, platforms ...string) []Image {
	tb.Helper()
	var out []Image
	for _, p := range platforms {
		out = append(out, r.PushImage(tb, repo, TagFor(tagPrefix, p), p, opts))
	}
	return out
}

// TagFor returns "<prefix>-<os>-<arch>[-<variant>]" for "os/arch[/variant]".
func TagFor(prefix, platform string) string {
	t := prefix + "-"
	for _, c := range platform {
		if c == '/' {
			c = '-'
		}
		t += string(c)
	}
	return t
}

// PushList is Client().PushList that fails tb on error.
func (r *Registry) PushList(tb testing.TB, repo, tag string, images []Image, opts ListOptions) List {
	tb.Helper()
	l, err := r.admin.PushList(repo, tag, images, opts)
	if err != nil {
		tb.Fatalf("pushing list %s: %v", r.Ref(repo+":"+tag), err)
	}
	return l
}

// GetManifest is Client().GetManifest that fails tb on a transport error.
// Check Status for 404 and the like.
func (r *Registry) GetManifest(tb testing.TB, repo, ref string) Manifest {
	tb.Helper()
	m, err := r.admin.GetManifest(repo, ref)
	if err != nil {
		tb.Fatalf("GET %s: %v", r.Ref(repo+":"+ref), err)
	}
	return m
}

// MustGetManifest is GetManifest that also fails tb unless the status is 200.
func (r *Registry) MustGetManifest(tb testing.TB, repo, ref string) Manifest {
	tb.Helper()
	m := r.GetManifest(tb, repo, ref)
	if m.Status != 200 {
		tb.Fatalf("GET manifest %s/%s: status %d", r.Host, repo+":"+ref, m.Status)
	}
	return m
}

// MustGetIndex fetches repo:ref and decodes it as a list, failing tb unless
// it is one.
func (r *Registry) MustGetIndex(tb testing.TB, repo, ref string) (Manifest, Index) {
	tb.Helper()
	m := r.MustGetManifest(tb, repo, ref)
	if !m.IsList() {
		tb.Fatalf("%s/%s is a %s, not a list", r.Host, repo+":"+ref, m.MediaType)
	}
	ix, err := m.Index()
	if err != nil {
		tb.Fatal(err)
	}
	return m, ix
}

// Tags is Client().Tags that fails tb on error.
func (r *Registry) Tags(tb testing.TB, repo string) []string {
	tb.Helper()
	tags, err := r.admin.Tags(repo)
	if err != nil {
		tb.Fatal(err)
	}
	return tags
}

// BlobExists is Client().BlobExists that fails tb on error.
func (r *Registry) BlobExists(tb testing.TB, repo, digest string) bool {
	tb.Helper()
	ok, err := r.admin.BlobExists(repo, digest)
	if err != nil {
		tb.Fatal(err)
	}
	return ok
}
