package plugin

import (
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/manifestlist"
)

// TestParseMergeArguments: SOURCE is resolved as every command resolves
// what it reads; DESTINATION and --target by the same rules, as registry
// references only, a layout or digest refused with a line naming it.
func TestParseMergeArguments(t *testing.T) {
	store := manifestlist.NewStore(t.TempDir())
	if err := store.Save(&manifestlist.Draft{Name: "registry.example.com/app:rc"}); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		source, destination, target string
		// wantSource is the source's kind; wantErr a part of the error.
		wantSource, wantTarget, wantErr string
	}{
		"registry":               {source: "registry.example.com/app:b", destination: "registry.example.com/app:1", wantSource: "registry", wantTarget: "registry.example.com/app:1"},
		"a draft shadows":        {source: "registry.example.com/app:rc", destination: "registry.example.com/app:1", wantSource: "draft", wantTarget: "registry.example.com/app:1"},
		"docker:// is registry":  {source: "docker://registry.example.com/app:rc", destination: "docker://registry.example.com/app:1", wantSource: "registry", wantTarget: "registry.example.com/app:1"},
		"oci layout":             {source: "oci:dir:v1", destination: "registry.example.com/app:1", wantSource: "oci", wantTarget: "registry.example.com/app:1"},
		"docker-archive":         {source: "docker-archive:a.tar", destination: "registry.example.com/app:1", wantSource: "docker-archive", wantTarget: "registry.example.com/app:1"},
		"--target":               {source: "oci-archive:a.tar", destination: "registry.example.com/app:1", target: "docker://registry.example.com/app:2", wantSource: "oci-archive", wantTarget: "registry.example.com/app:2"},
		"layout destination":     {source: "registry.example.com/app:b", destination: "oci:dir:v1", wantErr: `merge DESTINATION "oci:dir:v1" is a local OCI layout; merge DESTINATION takes a registry reference (REF or docker://REF)`},
		"layout --target":        {source: "registry.example.com/app:b", destination: "registry.example.com/app:1", target: "oci-archive:a.tar", wantErr: `--target "oci-archive:a.tar" is a local oci-archive; --target takes a registry reference`},
		"digest destination":     {source: "registry.example.com/app:b", destination: "registry.example.com/app@sha256:" + strings.Repeat("a", 64), wantErr: `invalid merge DESTINATION "registry.example.com/app@sha256:` + strings.Repeat("a", 64) + `": a list to update is named by a tag`},
		"digest --target":        {source: "registry.example.com/app:b", destination: "registry.example.com/app:1", target: "registry.example.com/app@sha256:" + strings.Repeat("a", 64), wantErr: `invalid --target "registry.example.com/app@sha256:` + strings.Repeat("a", 64) + `": a list to write is named by a tag`},
		"bad destination":        {source: "registry.example.com/app:b", destination: "Bad//Ref", wantErr: `invalid merge DESTINATION`},
		"unknown source form":    {source: "dir:/tmp/x", destination: "registry.example.com/app:1", wantErr: "accepted: a draft name, REF, docker://REF"},
		"draft name as a target": {source: "registry.example.com/app:b", destination: "registry.example.com/app:1", target: "registry.example.com/app:rc", wantSource: "registry", wantTarget: "registry.example.com/app:rc"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			req, err := parseMerge(mergeOptions{source: tc.source, destination: tc.destination, target: tc.target, match: "platform"}, store)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "\n") {
					t.Errorf("error %v, want one line with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if req.src.Source() != tc.wantSource || req.target.String() != tc.wantTarget {
				t.Errorf("source %s, target %s; want %s, %s", req.src.Source(), req.target, tc.wantSource, tc.wantTarget)
			}
		})
	}
}
