package manifestlist

import (
	"fmt"
	"strings"

	"github.com/distribution/reference"
)

// minDigestPrefix is the shortest hex prefix Find accepts, short enough to
// type and long enough to be unique in practice.
const minDigestPrefix = 12

// Find returns the index of the single entry sel names. sel is tried as a
// digest ("sha256:" followed by the full hex or a prefix of at least 12
// digits, or such a prefix alone),
// then as the entry's source reference (compared normalized, so
// "app:amd64" finds "docker.io/library/app:amd64"), then as a platform
// (ParsePlatform's syntax, selected by PlatformMatcher's rule, so
// "windows/amd64" names an entry whatever its os.version and os.features).
// A digest-less, tag-less name also matches every entry from that
// repository. The error wraps ErrNoMatch or ErrAmbiguous and lists the
// entries as they can be named.
func (d *Draft) Find(sel string) (int, error) {
	var (
		matches []int
		err     error
	)
	if alg, _, ok := strings.Cut(sel, ":"); ok && (alg == "sha384" || alg == "sha512") {
		return -1, fmt.Errorf("invalid digest %q: algorithm %s is not supported; entries are named by sha256 digests", sel, alg)
	}
	if hex, ok := strings.CutPrefix(sel, "sha256:"); ok {
		matches, err = d.findDigest(sel, hex)
		if err != nil {
			return -1, err
		}
	} else {
		if isHexPrefix(sel) {
			matches, _ = d.findDigest(sel, sel)
		}
		if len(matches) == 0 {
			matches = d.findSource(sel)
		}
		if len(matches) == 0 {
			matches = d.findPlatform(sel)
		}
	}
	switch len(matches) {
	case 1:
		return matches[0], nil
	case 0:
		return -1, wrapSentinel(ErrNoMatch, fmt.Sprintf("no entry of %s matches %q; name one by platform, digest (a prefix of %d+ hex digits will do) or source: %s", d.Name, sel, minDigestPrefix, d.describe(nil)))
	}
	return -1, wrapSentinel(ErrAmbiguous, fmt.Sprintf("%q matches several entries of %s; name one by digest: %s", sel, d.Name, d.describe(matches)))
}

// isHexPrefix reports whether s can be a bare digest prefix: 12 to 64
// lowercase or uppercase hex digits.
func isHexPrefix(s string) bool {
	return len(s) >= minDigestPrefix && len(s) <= 64 && strings.Trim(strings.ToLower(s), "0123456789abcdef") == ""
}

func (d *Draft) findDigest(sel, hex string) ([]int, error) {
	if len(hex) < minDigestPrefix || strings.Trim(strings.ToLower(hex), "0123456789abcdef") != "" {
		return nil, fmt.Errorf("invalid digest %q: expected sha256: followed by at least %d hex digits", sel, minDigestPrefix)
	}
	prefix := "sha256:" + strings.ToLower(hex)
	var out []int
	for i, e := range d.Entries {
		if strings.HasPrefix(e.Descriptor.Digest.String(), prefix) {
			out = append(out, i)
		}
	}
	return out, nil
}

func (d *Draft) findSource(sel string) []int {
	want := normalizeRef(sel)
	var exact, repo []int
	named, err := reference.ParseNormalizedNamed(sel)
	repoOnly := err == nil && reference.IsNameOnly(named)
	for i, e := range d.Entries {
		switch {
		case e.Source == sel || (want != "" && normalizeRef(e.Source) == want):
			exact = append(exact, i)
		case repoOnly && repoName(e.Source) == named.Name():
			repo = append(repo, i)
		}
	}
	if len(exact) > 0 {
		return exact
	}
	return repo
}

func (d *Draft) findPlatform(sel string) []int {
	p, err := ParsePlatform(sel)
	if err != nil {
		return nil
	}
	match := ExactPlatform(p)
	var out []int
	for i, e := range d.Entries {
		if !IsAttestation(e.Descriptor) && match.Match(e.Descriptor.Platform) {
			out = append(out, i)
		}
	}
	return out
}

// describe lists entries for error messages in the forms Find accepts:
// "platform sha256:PREFIX (source)", the prefix the shortest of at least
// 12 hex digits that names the entry alone; nil means all entries.
func (d *Draft) describe(idx []int) string {
	if idx == nil {
		for i := range d.Entries {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return "none"
	}
	parts := make([]string, 0, len(idx))
	for _, i := range idx {
		e := d.Entries[i]
		p := FormatPlatform(e.Descriptor.Platform)
		switch {
		case IsAttestation(e.Descriptor):
			p = "attestation"
		case p == "":
			p = "no platform"
		}
		s := p + " " + d.shortDigest(i)
		if e.Source != "" {
			s += " (" + e.Source + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// shortDigest is entry i's digest cut to the shortest prefix of at least
// minDigestPrefix hex digits no other entry shares.
func (d *Draft) shortDigest(i int) string {
	full := d.Entries[i].Descriptor.Digest.String()
	n := len("sha256:") + minDigestPrefix
	for ; n < len(full); n++ {
		unique := true
		for j, e := range d.Entries {
			if j != i && e.Descriptor.Digest.String() != full && strings.HasPrefix(e.Descriptor.Digest.String(), full[:n]) {
				unique = false
				break
			}
		}
		if unique {
			break
		}
	}
	if n > len(full) {
		n = len(full)
	}
	return full[:n]
}
