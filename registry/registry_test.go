package registry

import (
	"slices"
	"testing"
)

func TestCanonicalScope(t *testing.T) {
	tests := map[string]struct{ in, want string }{
		"already ordered": {"repository:team/app:pull,push", "repository:team/app:pull,push"},
		"reversed":        {"repository:team/app:push,pull", "repository:team/app:pull,push"},
		"with delete":     {"repository:a:delete,push,pull", "repository:a:pull,push,delete"},
		"registry scope":  {"registry:catalog:*", "registry:catalog:*"},
		"port in name":    {"repository:app:pull", "repository:app:pull"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := canonicalScope(tc.in); got != tc.want {
				t.Errorf("canonicalScope(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestMergeScopes(t *testing.T) {
	got := mergeScopes([]Scope{
		{Repository: "team/app", Actions: []string{"pull", "push"}},
		{Repository: "base/app", Actions: []string{"pull"}},
		{Repository: "team/app", Actions: []string{"pull"}},
		{Repository: "base/app", Actions: []string{"pull", "delete"}},
	})
	want := []Scope{
		{Repository: "team/app", Actions: []string{"pull", "push"}},
		{Repository: "base/app", Actions: []string{"pull", "delete"}},
	}
	if !slices.EqualFunc(got, want, func(a, b Scope) bool { return a.Repository == b.Repository && slices.Equal(a.Actions, b.Actions) }) {
		t.Errorf("mergeScopes = %v, want %v", got, want)
	}
}

func TestParseLink(t *testing.T) {
	tests := map[string]struct{ in, want string }{
		"next page":  {`</v2/app/tags/list?last=b&n=2>; rel="next"`, "/v2/app/tags/list?last=b&n=2"},
		"absolute":   {`<https://r.example/v2/app/tags/list?last=b>; rel="next"`, "https://r.example/v2/app/tags/list?last=b"},
		"malformed":  {`/v2/app/tags/list`, ""},
		"empty":      {``, ""},
		"only close": {`>`, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := parseLink(tc.in); got != tc.want {
				t.Errorf("parseLink(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseReference(t *testing.T) {
	tests := map[string]struct {
		in   string
		want Reference
		err  bool
	}{
		"short name":  {in: "alpine", want: Reference{Host: "docker.io", Repository: "library/alpine", Tag: "latest"}},
		"host port":   {in: "127.0.0.1:5000/team/app:v1", want: Reference{Host: "127.0.0.1:5000", Repository: "team/app", Tag: "v1"}},
		"digest":      {in: "r.example/app@sha256:" + hex64, want: Reference{Host: "r.example", Repository: "app", Digest: "sha256:" + hex64}},
		"upper case":  {in: "r.example/App:v1", err: true},
		"empty":       {in: "", err: true},
		"bad digest":  {in: "r.example/app@sha256:abc", err: true},
		"two colons":  {in: "r.example/app:v1:v2", err: true},
		"trailing at": {in: "r.example/app@", err: true},
		"no host":     {in: "0_0.0/0", err: true}, // found by FuzzListName: the normaliser and the grammar disagree on the host
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseReference(tc.in)
			if (err != nil) != tc.err {
				t.Fatalf("ParseReference(%q) error = %v, want error %v", tc.in, err, tc.err)
			}
			if err == nil && got != tc.want {
				t.Errorf("ParseReference(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
