package copy

import "testing"

// TestLocationString: a location is said as the user writes it, without
// the empty tag containers/image appends (oci-archive:FILE said
// "oci-archive:FILE:", and summaries "…FILE:: 4 manifests written").
func TestLocationString(t *testing.T) {
	for _, s := range []string{
		"oci:/tmp/layout",
		"oci:/tmp/layout:v2",
		"oci-archive:/tmp/a.tar",
		"oci-archive:/tmp/a.tar:v2",
		"docker-archive:/tmp/d.tar",
		"registry.example/app:v1",
	} {
		loc, err := ParseLocation(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if got := loc.String(); got != s {
			t.Errorf("%s is said %q", s, got)
		}
	}
}
