package manifestlist

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"gopkg.in/yaml.v3"
)

// Spec is a list described in YAML, a superset of manifest-tool's
// `push from-spec` format, for `push --spec`.
type Spec struct {
	// Image is the list reference to push.
	Image string
	// Tags are extra tags the same list is pushed to.
	Tags []string
	// MediaType is the list type from the "format" key: "" (automatic),
	// "docker" or "oci".
	MediaType string
	// Annotations are index-level annotations.
	Annotations map[string]string
	// Manifests are the entries, in list order.
	Manifests []SpecEntry
}

// SpecEntry is one image of a Spec.
type SpecEntry struct {
	// Image is the image reference.
	Image string
	// Platform overrides the platform read from the image config; nil
	// means read it from the image.
	Platform *imgspecv1.Platform
	// Features are Docker-list platform features, which OCI platforms
	// lack; kept so a spec loses nothing in parsing.
	Features []string
	// Annotations are entry annotations.
	Annotations map[string]string
}

type specFile struct {
	Image       string            `yaml:"image"`
	Tags        []string          `yaml:"tags"`
	Format      string            `yaml:"format"`
	Annotations map[string]string `yaml:"annotations"`
	Manifests   []specFileEntry   `yaml:"manifests"`
}

type specFileEntry struct {
	Image       string            `yaml:"image"`
	Platform    *specPlatform     `yaml:"platform"`
	Annotations map[string]string `yaml:"annotations"`
}

// specPlatform accepts manifest-tool's spellings (osversion, osfeatures,
// which yaml.v2 derived from Go field names) and the OCI JSON ones.
type specPlatform struct {
	Architecture  string   `yaml:"architecture"`
	OS            string   `yaml:"os"`
	Variant       string   `yaml:"variant"`
	Features      []string `yaml:"features"`
	OSVersion     string   `yaml:"osversion"`
	OSVersionOCI  string   `yaml:"os.version"`
	OSFeatures    []string `yaml:"osfeatures"`
	OSFeaturesOCI []string `yaml:"os.features"`
}

var yamlUnknownField = regexp.MustCompile(`field (\S+) not found in type \S+`)

// ParseSpec reads a YAML spec. Unknown keys are errors, so a typo cannot
// silently drop a setting; platforms that are given are validated. Errors
// are one line, with control characters escaped and long quotes cut, since
// they quote the file.
func ParseSpec(r io.Reader) (*Spec, error) {
	s, err := parseSpec(r)
	if err != nil {
		return nil, errors.New(oneLine(err.Error()))
	}
	return s, nil
}

// maxErrorLen bounds an error that quotes a spec.
const maxErrorLen = 512

// oneLine escapes control characters and cuts s to maxErrorLen.
func oneLine(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= maxErrorLen {
			b.WriteString("...")
			break
		}
		if unicode.IsControl(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func parseSpec(r io.Reader) (*Spec, error) {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	var f specFile
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("invalid spec: it is empty")
		}
		var te *yaml.TypeError
		if errors.As(err, &te) {
			msgs := make([]string, 0, len(te.Errors))
			for _, m := range te.Errors {
				msgs = append(msgs, yamlUnknownField.ReplaceAllString(m, `unknown key "$1"`))
			}
			return nil, fmt.Errorf("invalid spec: %s", strings.Join(msgs, "; "))
		}
		return nil, fmt.Errorf("invalid spec: %w", err)
	}
	// A second document would be silently ignored: refuse it.
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, fmt.Errorf("invalid spec: after the first document: %w", err)
		}
		return nil, fmt.Errorf("invalid spec: it holds several YAML documents (the second starts at line %d); put one list in each file", more.Line)
	}
	if f.Image == "" {
		return nil, fmt.Errorf("invalid spec: missing key \"image\" (the list to push)")
	}
	kind, err := ParseListType(f.Format)
	if err != nil {
		return nil, fmt.Errorf("invalid spec: format %q: accepted: %s", f.Format, strings.Join(ListTypes, ", "))
	}
	if len(f.Manifests) == 0 {
		return nil, fmt.Errorf("invalid spec: %s has no manifests", f.Image)
	}
	s := &Spec{Image: f.Image, Tags: f.Tags, MediaType: kind, Annotations: f.Annotations}
	for i, m := range f.Manifests {
		if m.Image == "" {
			return nil, fmt.Errorf("invalid spec: manifests[%d] has no image", i)
		}
		e := SpecEntry{Image: m.Image, Annotations: m.Annotations}
		if m.Platform != nil {
			p, err := m.Platform.toOCI()
			if err != nil {
				return nil, fmt.Errorf("invalid spec: manifests[%d] (%s): %w", i, m.Image, err)
			}
			e.Platform, e.Features = &p, m.Platform.Features
		}
		s.Manifests = append(s.Manifests, e)
	}
	return s, nil
}

func (sp *specPlatform) toOCI() (imgspecv1.Platform, error) {
	p := imgspecv1.Platform{Architecture: sp.Architecture, OS: sp.OS, Variant: sp.Variant, OSVersion: sp.OSVersion, OSFeatures: sp.OSFeatures}
	if sp.OSVersionOCI != "" {
		if p.OSVersion != "" && p.OSVersion != sp.OSVersionOCI {
			return p, fmt.Errorf("osversion %q and os.version %q disagree", p.OSVersion, sp.OSVersionOCI)
		}
		p.OSVersion = sp.OSVersionOCI
	}
	if len(sp.OSFeaturesOCI) > 0 {
		if len(p.OSFeatures) > 0 {
			return p, fmt.Errorf("give osfeatures or os.features, not both")
		}
		p.OSFeatures = sp.OSFeaturesOCI
	}
	if p.OS == "" || p.Architecture == "" {
		return p, fmt.Errorf("platform needs both os and architecture")
	}
	if err := normalizePlatform(&p); err != nil {
		return p, err
	}
	return p, ValidatePlatform(p)
}
