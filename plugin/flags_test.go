package plugin

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func TestPlatformFlag(t *testing.T) {
	tests := map[string]struct {
		args    []string
		want    []string
		wantErr string
	}{
		"not given":            {nil, nil, ""},
		"one":                  {[]string{"--platform", "linux/amd64"}, []string{"linux/amd64"}, ""},
		"comma separated":      {[]string{"--platform", "linux/amd64,linux/arm64"}, []string{"linux/amd64", "linux/arm64"}, ""},
		"repeated adds up":     {[]string{"--platform", "linux/amd64", "--platform", "linux/arm64"}, []string{"linux/amd64", "linux/arm64"}, ""},
		"repeat and comma":     {[]string{"--platform", "linux/amd64", "--platform=linux/arm64,linux/arm/v7"}, []string{"linux/amd64", "linux/arm64", "linux/arm/v7"}, ""},
		"hidden alias":         {[]string{"--platforms", "linux/arm64"}, []string{"linux/arm64"}, ""},
		"alias and flag add":   {[]string{"--platforms", "linux/arm64", "--platform", "linux/s390x"}, []string{"linux/arm64", "linux/s390x"}, ""},
		"repeated twice":       {[]string{"--platform", "linux/amd64", "--platform", "linux/amd64"}, nil, "linux/amd64 is listed twice"},
		"same platform twice":  {[]string{"--platform", "linux/arm64", "--platforms", "linux/arm64/v8"}, nil, "linux/arm64 and linux/arm64/v8 are the same platform"},
		"empty value refused":  {[]string{"--platform", ""}, nil, `invalid platform list ""`},
		"empty item refused":   {[]string{"--platform", "linux/amd64", "--platform", ""}, nil, "item 2 is empty"},
		"bad platform refused": {[]string{"--platform", "linux/amd64", "--platform", "plan9/sparc"}, nil, "plan9"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var l platformList
			flags := pflag.NewFlagSet("test", pflag.ContinueOnError)
			addPlatformFlag(flags, &l, "Platforms")
			if err := flags.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			got, err := l.platforms()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("platforms() = %v, %v; want an error containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, p := range got {
				names = append(names, manifestlist.FormatPlatform(&p))
			}
			if !slices.Equal(names, tc.want) {
				t.Errorf("platforms() = %q, want %q", names, tc.want)
			}
		})
	}
}

func TestCheckFormat(t *testing.T) {
	tests := map[string]string{
		"":                     "",
		"table":                "",
		"json":                 "",
		"{{.Digest}}":          "",
		"{{json .}}":           "",
		"name: {{.Name}}":      "",
		"yaml":                 `invalid --format "yaml": accepted: table, json, or a Go template`,
		"JSON":                 `invalid --format "JSON": accepted: table, json, or a Go template`,
		"raw":                  `invalid --format "raw": accepted`,
		".Digest":              `invalid --format ".Digest": accepted`,
		"{{.Digest":            `invalid --format "{{.Digest": template`,
		"{{nosuchfunc .Name}}": `invalid --format "{{nosuchfunc .Name}}"`,
	}
	for value, wantErr := range tests {
		t.Run(value, func(t *testing.T) {
			err := checkFormat(value)
			if wantErr == "" {
				if err != nil {
					t.Fatalf("checkFormat(%q) = %v, want accepted", value, err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), wantErr) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("checkFormat(%q) = %v, want one line beginning %q", value, err, wantErr)
			}
		})
	}
}

// Every command takes the same --format and --platform: one flag each,
// made by one helper, whatever command it is on.
func TestFlagsAgreeAcrossCommands(t *testing.T) {
	root := NewRootCommand(nil)
	var withFormat, withPlatform, withTag []string
	walk(root, func(c *cobra.Command) {
		if f := c.Flags().Lookup("tag"); f != nil {
			withTag = append(withTag, c.Name())
			if f.Shorthand != "t" || f.Value.Type() != "stringArray" {
				t.Errorf("%s --tag: shorthand %q, type %s; want -t, repeatable (addTagFlag)", c.Name(), f.Shorthand, f.Value.Type())
			}
		}
		if f := c.Flags().Lookup("format"); f != nil {
			withFormat = append(withFormat, c.Name())
			if _, ok := f.Value.(formatValue); !ok || f.Shorthand != "f" {
				t.Errorf("%s --format: value %T, shorthand %q; want formatValue and -f", c.Name(), f.Value, f.Shorthand)
			}
			if err := c.Flags().Set("format", "yaml"); err == nil {
				t.Errorf("%s --format yaml accepted", c.Name())
			}
		}
		p, alias := c.Flags().Lookup("platform"), c.Flags().Lookup("platforms")
		if p == nil && alias == nil {
			return
		}
		withPlatform = append(withPlatform, c.Name())
		if p == nil || alias == nil || !alias.Hidden || p.Hidden || p.Value != alias.Value {
			t.Errorf("%s: --platform %v and --platforms %v; want both, one value, --platforms hidden", c.Name(), p, alias)
			return
		}
		if _, ok := p.Value.(*platformList); !ok {
			t.Errorf("%s --platform: value %T, want *platformList", c.Name(), p.Value)
		}
	})
	slices.Sort(withFormat)
	slices.Sort(withPlatform)
	slices.Sort(withTag)
	if want := []string{"copy", "create", "merge", "push"}; !slices.Equal(withTag, want) {
		t.Errorf("commands with -t: %q, want %q", withTag, want)
	}
	if want := []string{"copy", "create", "diff", "inspect", "ls", "merge", "push", "tags", "verify"}; !slices.Equal(withFormat, want) {
		t.Errorf("commands with --format: %q, want %q", withFormat, want)
	}
	if want := []string{"copy", "create", "merge"}; !slices.Equal(withPlatform, want) {
		t.Errorf("commands with --platform: %q, want %q", withPlatform, want)
	}
}

func walk(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		walk(sub, fn)
	}
}

func TestSuggestions(t *testing.T) {
	root := NewRootCommand(nil)
	sub := func(name string) *cobra.Command {
		c, _, err := root.Find([]string{name})
		if err != nil || c.Name() != name {
			t.Fatalf("no command %s: %v", name, err)
		}
		return c
	}
	flagTests := []struct {
		cmd, typed, want string
	}{
		{"inspect", "fromat", "format"},
		{"inspect", "foramt", "format"},
		{"inspect", "form", "format"},
		{"copy", "platfrom", "platform"},
		{"copy", "platforms=linux/amd64", "platform"}, // not reached (alias), but closest all the same
		{"merge", "dryrun", "dry-run"},
		{"copy", "referers", "referrers"},
		{"verify", "xyzzy", ""},
		{"push", "purgeall", ""},
	}
	for _, tc := range flagTests {
		typed, _, _ := strings.Cut(tc.typed, "=")
		if got := closestFlag(sub(tc.cmd), typed); got != tc.want {
			t.Errorf("%s --%s: suggests %q, want %q", tc.cmd, tc.typed, got, tc.want)
		}
	}
	err, own := suggestFlagError(sub("inspect"), errors.New("unknown flag: --fromat"))
	if own || err.Error() != "unknown flag: --fromat (did you mean --format?)" {
		t.Errorf("suggestFlagError = %v, %v", err, own)
	}
	err, own = suggestFlagError(sub("inspect"), errors.New("unknown flag: --fromat=json"))
	if own || err.Error() != "unknown flag: --fromat=json (did you mean --format?)" {
		t.Errorf("suggestFlagError = %v, %v", err, own)
	}
	for typed, want := range map[string][]string{"craete": {"create"}, "creat": {"create"}, "isnpect": {"inspect"}, "xyzzy": nil} {
		if got := root.SuggestionsFor(typed); !slices.Equal(got, want) {
			t.Errorf("SuggestionsFor(%q) = %q, want %q", typed, got, want)
		}
	}
}

func TestLevenshtein(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"", "abc", 3}, {"abc", "", 3}, {"format", "format", 0},
		{"fromat", "format", 2}, {"formt", "format", 1}, {"formats", "format", 1}, {"kitten", "sitting", 3},
	} {
		if got := levenshtein(tc.a, tc.b); got != tc.want {
			t.Errorf("levenshtein(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
