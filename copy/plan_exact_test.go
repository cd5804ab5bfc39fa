package copy

import (
	"context"
	"testing"
)

// TestPlanRequestsLayoutRecopy: into an OCI layout that holds some of the
// blobs already, the dry run's requests and the run's own plan's are the
// requests the copy makes: the blobs the layout holds are present, and not
// read from the source.
func TestPlanRequestsLayoutRecopy(t *testing.T) {
	src := newStubRegistry(t)
	a := src.pushImage("app", "amd64", []byte("layer a"), []byte("shared"))
	b := src.pushImage("app", "arm64", []byte("layer b"), []byte("shared"))
	c := src.pushImage("app", "arm64", []byte("layer c"), []byte("shared"))
	src.pushIndex("app", "v1", []testImage{a, b}, nil)
	src.pushIndex("app", "v2", []testImage{a, c}, nil)
	dir := t.TempDir()
	sys := localSys(t)
	if _, err := CopySides(context.Background(), regSide(src.Stub, "app", "v1"), localSide(t, "oci:"+dir+":v1"), Options{SystemContext: sys}, nil); err != nil {
		t.Fatal(err)
	}
	resetRequests(src)
	dry, err := CopySides(context.Background(), regSide(src.Stub, "app", "v2"), localSide(t, "oci:"+dir+":v2"), Options{DryRun: true, SystemContext: sys}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := countBlobActions(dry.Plan.Blobs, actionPresent); n != 4 {
		t.Errorf("blobs %+v, want all but c's own layer present (4: c's config is b's)", dry.Plan.Blobs)
	}
	resetRequests(src)
	run, err := CopySides(context.Background(), regSide(src.Stub, "app", "v2"), localSide(t, "oci:"+dir+":v2"), Options{SystemContext: sys}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := count(src); got != dry.Plan.Requests || got != run.Plan.Requests {
		t.Errorf("the dry run planned %d requests, the run's plan %d, the copy made %d:\n%s", dry.Plan.Requests, run.Plan.Requests, got, requestLog(src))
	}
}

func countBlobActions(bs []PlanBlob, action string) int {
	n := 0
	for _, b := range bs {
		if b.Action == action {
			n++
		}
	}
	return n
}
