package plugin

import (
	"errors"
	"fmt"
	"strings"

	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker/cli/cli"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// platformList is the value of --platform: repeatable and comma separated,
// the values adding up (--platform a --platform b,c is a,b,c), as buildx and
// crane take it.
type platformList struct{ items []string }

func (l *platformList) Set(s string) error {
	l.items = append(l.items, s)
	return nil
}

func (l *platformList) String() string { return strings.Join(l.items, ",") }
func (l *platformList) Type() string   { return "strings" }

// given reports whether --platform was given at all.
func (l *platformList) given() bool { return len(l.items) > 0 }

// platforms parses everything given, as one list: a platform given twice,
// in one value or across several, is refused by the one platform-list parser.
func (l *platformList) platforms() ([]imgspecv1.Platform, error) {
	if !l.given() {
		return nil, nil
	}
	return manifestlist.ParsePlatforms(l.String())
}

// addPlatformFlag adds --platform, and --platforms as a hidden alias bound to
// the same value (create and merge took --platforms before).
func addPlatformFlag(flags *pflag.FlagSet, l *platformList, usage string) {
	flags.Var(l, "platform", usage+" (repeatable, or comma separated)")
	flags.Var(l, "platforms", usage)
	_ = flags.MarkHidden("platforms")
}

// formatValue is the value of -f/--format: "table", "json" or a Go
// template, checked when the flag is parsed so that a bad value is refused
// before anything is read or written. "" is the command's default output.
type formatValue struct {
	p   *string
	def string
}

func (f formatValue) Set(s string) error {
	if err := checkFormat(s); err != nil {
		return err
	}
	if s == "" {
		s = f.def
	}
	*f.p = s
	return nil
}

func (f formatValue) String() string { return *f.p }
func (f formatValue) Type() string   { return "string" }

// addFormatFlag adds -f/--format with default def, for the output what;
// note, if any, says what a value means for this command.
func addFormatFlag(flags *pflag.FlagSet, p *string, def, what, note string) {
	*p = def
	usage := formatHelp(what)
	if note != "" {
		usage += "; " + note
	}
	flags.VarP(formatValue{p, def}, "format", "f", usage)
}

// formatWithDryRun refuses --format without --dry-run in the commands
// (copy, merge, push) whose only formatted output is the plan: otherwise
// they print a digest, and a --format would be silently ignored.
func formatWithDryRun(cmd *cobra.Command, dryRun bool) error {
	if cmd.Flags().Changed("format") && !dryRun {
		return errors.New("--format goes with --dry-run")
	}
	return nil
}

// flagValueError is a bad flag value that already names the flag, the value
// and what is accepted.
type flagValueError struct{ msg string }

func (e *flagValueError) Error() string { return e.msg }

// suggestFlagError turns a flag parse error into the line a user should
// see: an error of our own flag values as it is, an unknown flag with the
// closest flag of the command named.
func suggestFlagError(cmd *cobra.Command, err error) (error, bool) {
	var own *flagValueError
	if errors.As(err, &own) {
		return own, true
	}
	msg := err.Error()
	var typed string
	switch {
	case strings.HasPrefix(msg, "unknown flag: --"):
		typed, _, _ = strings.Cut(strings.TrimPrefix(msg, "unknown flag: --"), "=")
	case strings.HasPrefix(msg, "unknown shorthand flag: "):
		return err, false
	default:
		return err, false
	}
	if s := closestFlag(cmd, typed); s != "" {
		return fmt.Errorf("%s (did you mean --%s?)", msg, s), false
	}
	return err, false
}

// flagError is the flag error function of every command but diff and
// verify (see statusFlagError): the docker CLI's, after suggestFlagError.
func flagError(cmd *cobra.Command, err error) error {
	err, own := suggestFlagError(cmd, err)
	if own {
		return err
	}
	return cli.FlagErrorFunc(cmd, err)
}

// closestFlag is the visible flag of cmd nearest to typed, within the
// distance cobra allows for command suggestions, or a flag typed begins.
func closestFlag(cmd *cobra.Command, typed string) string {
	best, bestDist := "", suggestionDistance+1
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		d := levenshtein(strings.ToLower(typed), f.Name)
		if strings.HasPrefix(f.Name, typed) && d > suggestionDistance {
			d = suggestionDistance
		}
		if d < bestDist {
			best, bestDist = f.Name, d
		}
	})
	return best
}

// suggestionDistance is how far a typo may be from a command or flag name
// to be suggested: 2 covers two swapped letters ("craete").
const suggestionDistance = 2

// levenshtein is the edit distance between a and b (cobra keeps its own
// unexported).
func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// addTagFlag adds -t/--tag, repeatable as buildx's: more tags the write
// puts its result under (copy.ParseTags reads them).
func addTagFlag(flags *pflag.FlagSet, p *[]string) {
	flags.StringArrayVarP(p, "tag", "t", nil, "Also tag the result TAG (in the destination repository), or REGISTRY/REPOSITORY:TAG (another repository of the same registry); repeatable")
}

// addDryRunFlag adds --dry-run to a command that writes through a plan,
// in words.go's words; prefix says when it applies ("With --push: ").
func addDryRunFlag(flags *pflag.FlagSet, p *bool, prefix string) {
	usage := "Print the plan (what would be mounted, copied, written and tagged) and write nothing"
	if prefix != "" {
		usage = prefix + strings.ToLower(usage[:1]) + usage[1:]
	}
	flags.BoolVar(p, "dry-run", false, usage)
}
