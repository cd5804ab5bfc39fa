package e2e

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
	"github.com/docker-mlist/docker-mlist/e2e/internal/proxy"
	"github.com/docker-mlist/docker-mlist/internal/registrystub"
)

// Issue 4's housekeeping commands: tags (with pagination) and delete.

// startPagingProxy fronts a registry and serves GET /v2/<repo>/tags/list
// with ?n= pagination and RFC 5988 Link headers, as the distribution spec
// describes. docker-registry 2.8 ignores ?n= and always answers with every
// tag, so the plugin's paging would otherwise go untested. Each page is read
// from the registry, so its log shows one tags/list GET per page too.
func startPagingProxy(t *testing.T, reg *harness.Registry) *proxy.Proxy {
	t.Helper()
	p, err := proxy.Start(reg.URL, proxy.Options{Intercept: func(w http.ResponseWriter, r *http.Request) bool {
		repo, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/v2/"), "/tags/list")
		if r.Method != http.MethodGet || !ok || r.URL.Path == "/v2/" {
			return false
		}
		tags, err := reg.Client().Tags(repo)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return true
		}
		if tags == nil {
			http.Error(w, `{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}`, http.StatusNotFound)
			return true
		}
		registrystub.WriteTagPage(w, r, repo, tags)
		return true
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// pages are the queries of the tags/list requests the proxy served.
func pages(p *proxy.Proxy) []string {
	var out []string
	for _, r := range p.Requests() {
		if strings.HasSuffix(r.Path, "/tags/list") {
			out = append(out, r.Query)
		}
	}
	return out
}

// TestTags: case 11. Five tags read two at a time come back complete, over
// several tags/list requests; --format json parses.
func TestTags(t *testing.T) {
	reg := plainRegistry(t)
	repo := testRepo(t, "app")
	img := reg.PushImage(t, repo, "t1", "linux/amd64", harness.ImageOptions{})
	want := []string{"t1", "t2", "t3", "t4", "t5"}
	for _, tag := range want[1:] {
		if _, err := reg.Client().PutManifest(repo, tag, img.MediaType, img.Raw); err != nil {
			t.Fatal(err)
		}
	}
	e := newEnv(t)

	t.Run("pages", func(t *testing.T) {
		proxy := startPagingProxy(t, reg)
		mark := reg.Mark()
		out := e.mustMlist(t, "tags", "--page-size", "2", proxy.Host+"/"+repo)
		got := strings.Fields(out)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("tags printed %q, want %v", out, want)
		}
		pages := pages(proxy)
		if len(pages) != 3 || !strings.Contains(pages[0], "n=2") || !strings.Contains(pages[2], "last=t4") {
			t.Errorf("tags/list requests %q, want 3 pages of 2 (n=2, then last=t2, last=t4)", pages)
		}
		if n := reg.RequestsSince(mark).ForRepo(repo).Count(http.MethodGet, "/tags/list"); n != len(pages) {
			t.Errorf("the registry served %d tags/list GETs, want one per page (%d)", n, len(pages))
		}
	})

	t.Run("direct", func(t *testing.T) {
		// Against the registry itself, which answers in one page.
		got := strings.Fields(e.mustMlist(t, "tags", "--page-size", "2", reg.Ref(repo)))
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("tags %v, want %v", got, want)
		}
	})

	t.Run("json", func(t *testing.T) {
		proxy := startPagingProxy(t, reg)
		out := e.mustMlist(t, "tags", "--page-size", "2", "--format", "json", proxy.Host+"/"+repo)
		var got []string
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("--format json printed %q: %v", out, err)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("--format json gave %v, want %v", got, want)
		}
	})
}

// TestDelete: case 12. delete by digest removes the manifest; a tag needs
// --force outside a terminal; a registry without deletes says so.
func TestDelete(t *testing.T) {
	reg := plainRegistry(t) // DeleteEnabled
	repo := testRepo(t, "app")
	e := newEnv(t)

	t.Run("by digest", func(t *testing.T) {
		img := reg.PushImage(t, repo, "bydigest", "linux/amd64", harness.ImageOptions{})
		out := e.mustMlist(t, "delete", reg.DigestRef(repo, img.Digest))
		if strings.TrimSpace(out) != img.Digest {
			t.Errorf("delete printed %q, want %s", out, img.Digest)
		}
		if got := reg.GetManifest(t, repo, img.Digest); got.Status != http.StatusNotFound {
			t.Errorf("GET by digest after delete: %d, want 404", got.Status)
		}
		if got := reg.GetManifest(t, repo, "bydigest"); got.Status != http.StatusNotFound {
			t.Errorf("GET of its tag after delete: %d, want 404", got.Status)
		}
	})

	t.Run("tag", func(t *testing.T) {
		img := reg.PushImage(t, repo, "bytag", "linux/amd64", harness.ImageOptions{})
		mark := reg.Mark()
		e.mlistFails(t, `--force`, "delete", reg.Ref(repo+":bytag"))
		if n := reg.RequestsSince(mark).Count(http.MethodDelete, ""); n > 0 {
			t.Errorf("delete without --force sent %d DELETE requests", n)
		}
		if got := reg.GetManifest(t, repo, "bytag"); got.Status != http.StatusOK || got.Digest != img.Digest {
			t.Fatalf("without --force the tag is gone: %d %s", got.Status, got.Digest)
		}

		out := e.mustMlist(t, "delete", "--force", reg.Ref(repo+":bytag"))
		if strings.TrimSpace(out) != img.Digest {
			t.Errorf("delete printed %q, want %s", out, img.Digest)
		}
		if got := reg.GetManifest(t, repo, img.Digest); got.Status != http.StatusNotFound {
			t.Errorf("GET by digest after delete --force: %d, want 404", got.Status)
		}
	})

	t.Run("list", func(t *testing.T) {
		imgs := reg.PushImages(t, repo, "l", harness.ImageOptions{}, "linux/amd64", "linux/arm64")
		list := reg.PushList(t, repo, "list", imgs, harness.ListOptions{})
		e.mustMlist(t, "delete", reg.DigestRef(repo, list.Digest))
		if got := reg.GetManifest(t, repo, list.Digest); got.Status != http.StatusNotFound {
			t.Errorf("list after delete: %d, want 404", got.Status)
		}
		for _, img := range imgs { // only the list goes
			if got := reg.GetManifest(t, repo, img.Digest); got.Status != http.StatusOK {
				t.Errorf("entry %s after deleting the list: %d, want 200", img.Digest, got.Status)
			}
		}
	})

	t.Run("deletes disabled", func(t *testing.T) {
		own := startRegistry(t, harness.RegistryOptions{})
		img := own.PushImage(t, repo, "v1", "linux/amd64", harness.ImageOptions{})
		e.mlistFails(t, `does not allow deletes`, "delete", own.DigestRef(repo, img.Digest))
		if got := own.GetManifest(t, repo, img.Digest); got.Status != http.StatusOK {
			t.Errorf("manifest after a refused delete: %d", got.Status)
		}
	})
}
