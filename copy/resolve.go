package copy

import (
	"errors"
	"fmt"
	"strings"

	"github.com/docker-mlist/docker-mlist/manifestlist"
)

// InputForms names every form Resolve accepts, for errors and help.
const InputForms = "a draft name, REF, docker://REF, oci:DIR[:TAG], oci-archive:FILE[:TAG] or docker-archive:FILE[:REF]"

// Input is what a command reads, as Resolve found it from what the user
// wrote: a local draft, a registry reference or a local layout.
type Input struct {
	// Arg is what the user wrote.
	Arg string
	// Draft is set when the input is a local draft.
	Draft *manifestlist.Draft
	// Location is the registry reference or local layout read; for a
	// draft, the registry reference its name is (which the draft shadows).
	Location Location
}

// Source says where the input is read: "draft", "registry", "oci",
// "oci-archive" or "docker-archive"; JSON output carries it.
func (in Input) Source() string {
	if in.Draft != nil {
		return "draft"
	}
	return in.Location.Transport()
}

// Shadows says the input is a draft named like a registry reference: the
// output says it shows the draft, and docker://NAME reads the registry.
func (in Input) Shadows() bool { return in.Draft != nil }

// String names the input: the draft's name, a registry reference
// normalised, a layout as the user wrote it.
func (in Input) String() string {
	switch {
	case in.Draft != nil:
		return in.Draft.Name
	case in.Location.Registry == nil && in.Arg != "":
		return in.Arg
	}
	return in.Location.String()
}

// ShadowNote is the line a command prints (on stderr) when it shows a draft
// that has a registry reference's name.
func (in Input) ShadowNote() string {
	if !in.Shadows() {
		return ""
	}
	return fmt.Sprintf("note: %s is the local draft; docker://%s reads the registry", in.Draft.Name, in.Draft.Name)
}

// Resolve finds what arg names. docker://REF is always the registry;
// oci:, oci-archive: and docker-archive: are local layouts; any other
// reference is the draft of that name in drafts when there is one (drafts
// may be nil: the command reads no drafts), else the registry. A draft is
// named by tag, so a reference with a digest is always the registry's.
func Resolve(arg string, drafts *manifestlist.Store) (Input, error) {
	loc, err := parseLocation(arg)
	if err != nil {
		forms := InputForms
		if drafts == nil {
			forms = LocationForms
		}
		return Input{}, fmt.Errorf("%w; accepted: %s", err, forms)
	}
	in := Input{Arg: arg, Location: loc}
	if drafts == nil || loc.Registry == nil || loc.Registry.Digest != "" || strings.HasPrefix(arg, "docker://") {
		return in, nil
	}
	d, err := drafts.Get(loc.Registry.String())
	switch {
	case err == nil:
		in.Draft = d
	case !errors.Is(err, manifestlist.ErrNotFound):
		return Input{}, err
	}
	return in, nil
}

// RegistryOnly refuses an input that is not a registry reference, for the
// arguments that name a registry list alone; what names the argument
// ("merge DESTINATION").
func (in Input) RegistryOnly(what string) error {
	if in.Location.Registry != nil && in.Draft == nil {
		return nil
	}
	return fmt.Errorf("%s %q is %s; %s takes a registry reference (REF or docker://REF)", what, in.Arg, in.describe(), what)
}

func (in Input) describe() string {
	switch in.Source() {
	case "draft":
		return "a local draft"
	case "oci":
		return "a local OCI layout"
	}
	return "a local " + in.Source()
}
