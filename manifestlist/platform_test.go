package manifestlist

import (
	"strings"
	"testing"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestParsePlatform(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    imgspecv1.Platform
		wantErr string
	}{
		"os/arch":           {in: "linux/amd64", want: imgspecv1.Platform{OS: "linux", Architecture: "amd64"}},
		"variant":           {in: "linux/arm/v7", want: imgspecv1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}},
		"uppercase":         {in: " Linux/ARM64/V8 ", want: imgspecv1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}},
		"x86_64":            {in: "linux/x86_64", want: imgspecv1.Platform{OS: "linux", Architecture: "amd64"}},
		"aarch64":           {in: "linux/aarch64", want: imgspecv1.Platform{OS: "linux", Architecture: "arm64"}},
		"armhf":             {in: "linux/armhf", want: imgspecv1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}},
		"armel":             {in: "linux/armel", want: imgspecv1.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}},
		"i386":              {in: "linux/i386", want: imgspecv1.Platform{OS: "linux", Architecture: "386"}},
		"os.version":        {in: "windows/amd64:10.0.17763.1", want: imgspecv1.Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.17763.1"}},
		"arm64 v9.5":        {in: "linux/arm64/v9.5", want: imgspecv1.Platform{OS: "linux", Architecture: "arm64", Variant: "v9.5"}},
		"amd64 v3":          {in: "linux/amd64/v3", want: imgspecv1.Platform{OS: "linux", Architecture: "amd64", Variant: "v3"}},
		"riscv64 profile":   {in: "linux/riscv64/rva23u64", want: imgspecv1.Platform{OS: "linux", Architecture: "riscv64", Variant: "rva23u64"}},
		"loong64":           {in: "linux/loong64", want: imgspecv1.Platform{OS: "linux", Architecture: "loong64"}},
		"wasip1":            {in: "wasip1/wasm", want: imgspecv1.Platform{OS: "wasip1", Architecture: "wasm"}},
		"bad arm variant":   {in: "linux/arm/v9", wantErr: `invalid platform "linux/arm/v9": variant must be one of v5, v6, v7, v8 for arm`},
		"variant on s390x":  {in: "linux/s390x/v1", wantErr: `architecture s390x takes no variant`},
		"unknown os":        {in: "unknown/amd64", wantErr: `os "unknown" is not one of aix`},
		"unknown arch":      {in: "linux/unknown", wantErr: `architecture "unknown" is not one of 386`},
		"os.version build":  {in: "windows/amd64:10.0.17763", want: imgspecv1.Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.17763"}},
		"variant, version":  {in: "linux/arm64/v8:6.1", want: imgspecv1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8", OSVersion: "6.1"}},
		"missing arch":      {in: "linux", wantErr: `expected os/arch[/variant][:os.version]`},
		"too many parts":    {in: "linux/arm/v7/x", wantErr: `expected os/arch[/variant]`},
		"empty":             {in: "", wantErr: `expected os/arch[/variant]`},
		"armhf conflicting": {in: "linux/armhf/v6", wantErr: `armhf means arm/v7, which conflicts with variant v6`},
		"empty os.version":  {in: "windows/amd64:", wantErr: `empty os.version`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParsePlatform(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParsePlatform(%q) error = %v, want containing %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePlatform(%q): %v", tc.in, err)
			}
			if FormatPlatform(&got) != FormatPlatform(&tc.want) {
				t.Errorf("ParsePlatform(%q) = %s, want %s", tc.in, FormatPlatform(&got), FormatPlatform(&tc.want))
			}
		})
	}
}

func TestParsePlatforms(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    []string
		wantErr string
	}{
		"one":                {in: "linux/amd64", want: []string{"linux/amd64"}},
		"several":            {in: "linux/amd64, linux/arm/v7,linux/aarch64", want: []string{"linux/amd64", "linux/arm/v7", "linux/arm64"}},
		"blank":              {in: " ", wantErr: `invalid platform list " ": expected os/arch`},
		"empty item":         {in: "linux/amd64,,linux/arm64", wantErr: `invalid platform list "linux/amd64,,linux/arm64": item 2 is empty`},
		"only commas":        {in: " , ", wantErr: `item 1 is empty`},
		"trailing comma":     {in: "linux/amd64,", wantErr: `item 2 is empty`},
		"twice":              {in: "linux/arm64,linux/arm64", wantErr: `invalid platform list "linux/arm64,linux/arm64": linux/arm64 is listed twice`},
		"alias twice":        {in: "linux/arm64,linux/aarch64", wantErr: `linux/arm64 and linux/aarch64 are the same platform`},
		"v8 twice":           {in: "linux/arm64, linux/arm64/v8", wantErr: `linux/arm64 and linux/arm64/v8 are the same platform`},
		"arm is v7":          {in: "linux/arm,linux/arm/v7", wantErr: `linux/arm and linux/arm/v7 are the same platform`},
		"variants differ":    {in: "linux/arm/v6,linux/arm/v7", want: []string{"linux/arm/v6", "linux/arm/v7"}},
		"os versions differ": {in: "windows/amd64:10.0.17763.1,windows/amd64:10.0.20348.1", want: []string{"windows/amd64:10.0.17763.1", "windows/amd64:10.0.20348.1"}},
		"one is bad":         {in: "linux/amd64,linux/arm/v9", wantErr: `invalid platform "linux/arm/v9"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParsePlatforms(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var s []string
			for _, p := range got {
				s = append(s, FormatPlatform(&p))
			}
			if strings.Join(s, ",") != strings.Join(tc.want, ",") {
				t.Errorf("got %v, want %v", s, tc.want)
			}
		})
	}
}

func TestValidatePlatform(t *testing.T) {
	tests := map[string]struct {
		p       imgspecv1.Platform
		wantErr string
	}{
		"valid":            {p: imgspecv1.Platform{OS: "linux", Architecture: "ppc64le"}},
		"attestation":      {p: imgspecv1.Platform{OS: "unknown", Architecture: "unknown"}, wantErr: `invalid platform "unknown/unknown": os "unknown"`},
		"amd64 v5":         {p: imgspecv1.Platform{OS: "linux", Architecture: "amd64", Variant: "v5"}, wantErr: `variant must be one of v1, v2, v3, v4 for amd64`},
		"uppercase stored": {p: imgspecv1.Platform{OS: "Linux", Architecture: "amd64"}, wantErr: `os "Linux"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := ValidatePlatform(tc.p)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestFormatPlatform(t *testing.T) {
	tests := map[string]struct {
		p    *imgspecv1.Platform
		want string
	}{
		"nil":        {p: nil, want: ""},
		"empty":      {p: &imgspecv1.Platform{}, want: ""},
		"plain":      {p: &imgspecv1.Platform{OS: "linux", Architecture: "amd64"}, want: "linux/amd64"},
		"variant":    {p: &imgspecv1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, want: "linux/arm/v7"},
		"os.version": {p: &imgspecv1.Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.17763.1"}, want: "windows/amd64:10.0.17763.1"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := FormatPlatform(tc.p); got != tc.want {
				t.Errorf("FormatPlatform = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPlatformKey(t *testing.T) {
	tests := map[string]struct {
		a, b *imgspecv1.Platform
		mode MatchMode
		same bool
	}{
		"arm64 and arm64/v8":     {a: &imgspecv1.Platform{OS: "linux", Architecture: "arm64"}, b: &imgspecv1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, same: true},
		"arm and arm/v7":         {a: &imgspecv1.Platform{OS: "linux", Architecture: "arm"}, b: &imgspecv1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, same: true},
		"arm/v6 and arm/v7":      {a: &imgspecv1.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}, b: &imgspecv1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}},
		"os differs":             {a: &imgspecv1.Platform{OS: "linux", Architecture: "amd64"}, b: &imgspecv1.Platform{OS: "windows", Architecture: "amd64"}},
		"os differs, arch mode":  {a: &imgspecv1.Platform{OS: "linux", Architecture: "amd64"}, b: &imgspecv1.Platform{OS: "windows", Architecture: "amd64"}, mode: MatchArch, same: true},
		"os.version differs":     {a: &imgspecv1.Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.17763.1"}, b: &imgspecv1.Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.20348.1"}},
		"alias in stored entry":  {a: &imgspecv1.Platform{OS: "linux", Architecture: "x86_64"}, b: &imgspecv1.Platform{OS: "linux", Architecture: "amd64"}, same: true},
		"case in stored entry":   {a: &imgspecv1.Platform{OS: "Linux", Architecture: "AMD64"}, b: &imgspecv1.Platform{OS: "linux", Architecture: "amd64"}, same: true},
		"variant ignored, arch":  {a: &imgspecv1.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}, b: &imgspecv1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, mode: MatchArch, same: true},
		"nil and empty platform": {a: nil, b: &imgspecv1.Platform{}, same: true},
		"windows revision":       {a: &imgspecv1.Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.17763.1"}, b: &imgspecv1.Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.17763.5329"}, same: true},
		"os.version or none":     {a: &imgspecv1.Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.17763.1"}, b: &imgspecv1.Platform{OS: "windows", Architecture: "amd64"}},
		"amd64 and amd64/v1":     {a: &imgspecv1.Platform{OS: "linux", Architecture: "amd64", Variant: "v1"}, b: &imgspecv1.Platform{OS: "linux", Architecture: "amd64"}, same: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ka, kb := PlatformKey(tc.a, tc.mode), PlatformKey(tc.b, tc.mode)
			if (ka == kb) != tc.same {
				t.Errorf("keys %q and %q: same = %v, want %v", ka, kb, ka == kb, tc.same)
			}
		})
	}
}

func TestIsAttestation(t *testing.T) {
	tests := map[string]struct {
		d    imgspecv1.Descriptor
		want bool
	}{
		"image":       {d: docker("a", "linux/amd64")},
		"attestation": {d: attestation("att", docker("a", "linux/amd64")), want: true},
		"other type":  {d: imgspecv1.Descriptor{Annotations: map[string]string{AnnotationReferenceType: "something"}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := IsAttestation(tc.d); got != tc.want {
				t.Errorf("IsAttestation = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestPlatformMatcher: the os/architecture/variant cases are containerd's
// (platforms.Normalize, OnlyStrict for ExactPlatform, Only's preference
// vector for OnlyPlatform: github.com/containerd/platforms compare.go; not
// a dependency of this module, so transcribed rather than compared). The
// os.version cases are this project's selector rule, which departs from
// containerd's windowsVersionMatcher on purpose: that one answers "does
// this run on my host" (an entry without os.version runs anywhere, a
// Windows Server 2022 host takes older builds down to 20348), not "is this
// the entry I named".
func TestPlatformMatcher(t *testing.T) {
	plat := func(s string) *imgspecv1.Platform {
		p := &imgspecv1.Platform{}
		spec, osVersion, _ := strings.Cut(s, ":")
		parts := strings.Split(spec, "/")
		p.OS, p.Architecture, p.OSVersion = parts[0], parts[1], osVersion
		if len(parts) > 2 {
			p.Variant = parts[2]
		}
		return p
	}
	tests := map[string]struct {
		want, p string
		exact   bool // ExactPlatform matches
		only    int  // OnlyPlatform's rank, -1 for no match
	}{
		"same":                         {want: "linux/amd64", p: "linux/amd64", exact: true, only: 0},
		"x86_64 is amd64":              {want: "linux/amd64", p: "linux/x86_64", exact: true, only: 0},
		"aarch64 is arm64":             {want: "linux/aarch64", p: "linux/arm64", exact: true, only: 0},
		"case":                         {want: "Linux/AMD64", p: "linux/amd64", exact: true, only: 0},
		"macos is darwin":              {want: "macos/arm64", p: "darwin/arm64", exact: true, only: 0},
		"amd64/v1 is amd64":            {want: "linux/amd64/v1", p: "linux/amd64", exact: true, only: 0},
		"os differs":                   {want: "linux/amd64", p: "windows/amd64", only: -1},
		"arch differs":                 {want: "linux/amd64", p: "linux/arm64", only: -1},
		"arm64 with no variant is v8":  {want: "linux/arm64", p: "linux/arm64/v8", exact: true, only: 0},
		"arm64/v8 entry, arm64 wanted": {want: "linux/arm64/v8", p: "linux/arm64", exact: true, only: 0},
		"arm with no variant is v7":    {want: "linux/arm", p: "linux/arm/v7", exact: true, only: 0},
		"armhf is arm/v7":              {want: "linux/armhf", p: "linux/arm/v7", exact: true, only: 0},
		"armel is arm/v6":              {want: "linux/arm/v6", p: "linux/armel", exact: true, only: 0},
		"bare 7 is v7":                 {want: "linux/arm/7", p: "linux/arm/v7", exact: true, only: 0},
		"arm/v7 runs v6":               {want: "linux/arm/v7", p: "linux/arm/v6", only: 1},
		"arm/v7 runs v5":               {want: "linux/arm/v7", p: "linux/arm/v5", only: 2},
		"arm/v6 does not run v7":       {want: "linux/arm/v6", p: "linux/arm/v7", only: -1},
		"arm/v8 runs v7":               {want: "linux/arm/v8", p: "linux/arm/v7", only: 1},
		"arm64 runs arm/v8":            {want: "linux/arm64", p: "linux/arm/v8", only: 1},
		"arm64 runs arm/v7":            {want: "linux/arm64", p: "linux/arm", only: 2},
		"arm64 runs arm/v5":            {want: "linux/arm64", p: "linux/arm/v5", only: 4},
		"arm does not run arm64":       {want: "linux/arm/v8", p: "linux/arm64", only: -1},
		"arm64/v8.2 runs v8.1":         {want: "linux/arm64/v8.2", p: "linux/arm64/v8.1", only: 1},
		"arm64/v8.2 runs v8":           {want: "linux/arm64/v8.2", p: "linux/arm64", only: 2},
		"arm64/v8.1 does not run v8.2": {want: "linux/arm64/v8.1", p: "linux/arm64/v8.2", only: -1},
		"arm64/v9 runs v8.5":           {want: "linux/arm64/v9", p: "linux/arm64/v8.5", only: 1},
		"arm64/v9.1 runs v9":           {want: "linux/arm64/v9.1", p: "linux/arm64/v9", only: 1},
		"arm64/v9 does not run v8.6":   {want: "linux/arm64/v9", p: "linux/arm64/v8.6", only: -1},
		"amd64 runs 386":               {want: "linux/amd64", p: "linux/386", only: 1},
		"i386 is 386":                  {want: "linux/386", p: "linux/i386", exact: true, only: 0},
		"386 does not run amd64":       {want: "linux/386", p: "linux/amd64", only: -1},
		"amd64/v3 runs v2":             {want: "linux/amd64/v3", p: "linux/amd64/v2", only: 1},
		"amd64/v3 runs amd64":          {want: "linux/amd64/v3", p: "linux/amd64", only: 2},
		"amd64/v2 does not run v3":     {want: "linux/amd64/v2", p: "linux/amd64/v3", only: -1},
		// os.version: the wanted one is equal to the entry's or a prefix
		// ending at one of its dots; wanting none selects any.
		"windows any version wanted":        {want: "windows/amd64", p: "windows/amd64:10.0.17763.1", exact: true, only: 0},
		"windows build selects its updates": {want: "windows/amd64:10.0.17763", p: "windows/amd64:10.0.17763.5329", exact: true, only: 0},
		"windows whole version":             {want: "windows/amd64:10.0.17763.5329", p: "windows/amd64:10.0.17763.5329", exact: true, only: 0},
		"windows other update":              {want: "windows/amd64:10.0.17763.5329", p: "windows/amd64:10.0.17763.1", only: -1},
		"windows other build":               {want: "windows/amd64:10.0.20348", p: "windows/amd64:10.0.17763.1", only: -1},
		"prefix stops at a dot":             {want: "windows/amd64:10.0.1776", p: "windows/amd64:10.0.17763.1", only: -1},
		"windows entry without version":     {want: "windows/amd64:10.0.17763", p: "windows/amd64", only: -1},
		"linux os.version compared alike":   {want: "linux/amd64:5.0", p: "linux/amd64:6.0", only: -1},
		"linux os.version prefix":           {want: "linux/amd64:6", p: "linux/amd64:6.1", exact: true, only: 0},
		"version kept down the vector":      {want: "windows/arm64:10.0.26100", p: "windows/arm/v7:10.0.26100.1", only: 2},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			want, p := *plat(tc.want), plat(tc.p)
			if got := ExactPlatform(want).Match(p); got != tc.exact {
				t.Errorf("ExactPlatform(%s).Match(%s) = %v, want %v", tc.want, tc.p, got, tc.exact)
			}
			if got := OnlyPlatform(want).Rank(p); got != tc.only {
				t.Errorf("OnlyPlatform(%s).Rank(%s) = %d, want %d", tc.want, tc.p, got, tc.only)
			}
			if got := OnlyPlatform(want).Match(p); got != (tc.only >= 0) {
				t.Errorf("OnlyPlatform(%s).Match(%s) = %v", tc.want, tc.p, got)
			}
		})
	}
	if ExactPlatform(imgspecv1.Platform{OS: "linux", Architecture: "amd64"}).Match(nil) {
		t.Error("nil platform matched")
	}
}

// TestPlatformMatcherFeatures: os.features are requirements of the entry
// (OCI image-index spec); a wanted platform naming none selects an entry
// whatever its features, one naming some selects entries that have them
// all (go-containerregistry's Platform.Satisfies; containerd ignores
// them).
func TestPlatformMatcherFeatures(t *testing.T) {
	tests := map[string]struct {
		want, entry []string
		match       bool
	}{
		"none wanted, none":     {match: true},
		"none wanted, win32k":   {entry: []string{"win32k"}, match: true},
		"none wanted, several":  {entry: []string{"a", "win32k"}, match: true},
		"wanted, same":          {want: []string{"win32k"}, entry: []string{"win32k"}, match: true},
		"wanted, more":          {want: []string{"win32k"}, entry: []string{"b", "win32k"}, match: true},
		"wanted, repeated":      {want: []string{"win32k", "a"}, entry: []string{"a", "win32k", "a"}, match: true},
		"wanted, entry lacks":   {want: []string{"win32k"}},
		"wanted, one missing":   {want: []string{"a", "win32k"}, entry: []string{"win32k"}},
		"wanted, other feature": {want: []string{"win32k"}, entry: []string{"b"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			want := imgspecv1.Platform{OS: "windows", Architecture: "amd64", OSFeatures: tc.want}
			p := &imgspecv1.Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.17763.5329", OSFeatures: tc.entry}
			if got := ExactPlatform(want).Match(p); got != tc.match {
				t.Errorf("ExactPlatform.Match = %v, want %v", got, tc.match)
			}
			if got := OnlyPlatform(want).Match(p); got != tc.match {
				t.Errorf("OnlyPlatform.Match = %v, want %v", got, tc.match)
			}
		})
	}
}

func TestPlatformMatcherBest(t *testing.T) {
	list := []imgspecv1.Descriptor{
		attestation("att", docker("v7", "linux/arm/v7")),
		docker("v5", "linux/arm/v5"),
		docker("v6", "linux/arm/v6"),
		docker("amd", "linux/amd64"),
		docker("v6-again", "linux/arm/v6"),
	}
	tests := map[string]struct {
		want imgspecv1.Platform
		best int
	}{
		"closest compatible":         {want: imgspecv1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, best: 2},
		"exact":                      {want: imgspecv1.Platform{OS: "linux", Architecture: "arm", Variant: "v5"}, best: 1},
		"attestation never chosen":   {want: imgspecv1.Platform{OS: "unknown", Architecture: "unknown"}, best: -1},
		"none":                       {want: imgspecv1.Platform{OS: "linux", Architecture: "s390x"}, best: -1},
		"arm64 falls back to 32-bit": {want: imgspecv1.Platform{OS: "linux", Architecture: "arm64"}, best: 2},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := OnlyPlatform(tc.want).Best(list); got != tc.best {
				t.Errorf("Best = %d, want %d", got, tc.best)
			}
		})
	}
}

// TestPlatformKeyAgreesWithExact: PlatformKey is the matcher's rule made
// symmetric: two platforms share a key exactly when each, without
// os.features and with a Windows os.version cut to its build, selects the
// other.
func TestPlatformKeyAgreesWithExact(t *testing.T) {
	ps := []imgspecv1.Platform{
		{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "x86_64"}, {OS: "linux", Architecture: "amd64", Variant: "v1"},
		{OS: "linux", Architecture: "amd64", Variant: "v2"}, {OS: "linux", Architecture: "arm64"}, {OS: "linux", Architecture: "arm64", Variant: "v8"},
		{OS: "linux", Architecture: "aarch64"}, {OS: "linux", Architecture: "arm"}, {OS: "linux", Architecture: "arm", Variant: "v7"},
		{OS: "linux", Architecture: "armhf"}, {OS: "linux", Architecture: "arm", Variant: "v6"}, {OS: "windows", Architecture: "amd64"},
		{OS: "Linux", Architecture: "AMD64"}, {OS: "linux", Architecture: "386"}, {OS: "linux", Architecture: "i386"},
		{OS: "windows", Architecture: "amd64", OSVersion: "10.0.17763.1"}, {OS: "windows", Architecture: "amd64", OSVersion: "10.0.17763.5329", OSFeatures: []string{"win32k"}},
		{OS: "windows", Architecture: "amd64", OSVersion: "10.0.17763"}, {OS: "windows", Architecture: "amd64", OSVersion: "10.0.20348.1"},
		{OS: "windows", Architecture: "amd64", OSFeatures: []string{"win32k"}}, {OS: "linux", Architecture: "amd64", OSVersion: "6.1"},
		{OS: "linux", Architecture: "amd64", OSVersion: "6.1.2"}, {OS: "windows", Architecture: "amd64", OSVersion: "ltsc"},
	}
	for _, a := range ps {
		for _, b := range ps {
			key := PlatformKey(&a, MatchPlatform) == PlatformKey(&b, MatchPlatform)
			ia, ib := identity(NormalizePlatform(a)), identity(NormalizePlatform(b))
			match := ExactPlatform(ia).Match(&b) && ExactPlatform(ib).Match(&a)
			if key != match {
				t.Errorf("%s and %s: same key %v, each selects the other %v", FormatPlatform(&a), FormatPlatform(&b), key, match)
			}
		}
	}
}
