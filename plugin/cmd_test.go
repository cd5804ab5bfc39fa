package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/docker-mlist/docker-mlist/internal/registrystub"
	"github.com/docker-mlist/docker-mlist/manifestlist"
	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/config"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"
	"go.podman.io/image/v5/manifest"
)

// The command tests run a subcommand in-process, as docker/cli's
// cli/command/manifest tests do: the real cobra command, built by its
// newXCommand, with a Docker CLI whose streams are buffers and whose config
// directory (credentials, the draft store) is a fresh temporary one, against
// the in-memory registry of internal/registrystub. A loopback registry is
// reached over plain HTTP without flags, as on the command line.

// testCLI is the in-process Docker CLI of one test.
type testCLI struct {
	*command.DockerCli
	out, err *bytes.Buffer
}

func newTestCLI(t *testing.T) *testCLI {
	t.Helper()
	prev := config.Dir()
	config.SetDir(t.TempDir())
	t.Cleanup(func() { config.SetDir(prev) })
	out, errOut := new(bytes.Buffer), new(bytes.Buffer)
	cli, err := command.NewDockerCli(command.WithInputStream(io.NopCloser(strings.NewReader(""))),
		command.WithOutputStream(out), command.WithErrorStream(errOut))
	if err != nil {
		t.Fatal(err)
	}
	return &testCLI{DockerCli: cli, out: out, err: errOut}
}

// run executes the command newCmd builds with args, its output in c.out
// and c.err (emptied first).
func (c *testCLI) run(newCmd func(command.Cli) *cobra.Command, args ...string) error {
	c.out.Reset()
	c.err.Reset()
	cmd := newCmd(c)
	cmd.SetArgs(args)
	cmd.SetOut(c.out)
	cmd.SetErr(c.err)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	return cmd.ExecuteContext(context.Background())
}

// mustRun is run for a step a test builds on.
func (c *testCLI) mustRun(t *testing.T, newCmd func(command.Cli) *cobra.Command, args ...string) string {
	t.Helper()
	if err := c.run(newCmd, args...); err != nil {
		t.Fatalf("%v: %v\nstderr: %s", args, err, c.err)
	}
	return c.out.String()
}

// storedDraft is what the draft store holds under name; nil when nothing.
func storedDraft(t *testing.T, name string) *manifestlist.Draft {
	t.Helper()
	d, err := draftStore().Get(name)
	if err != nil {
		return nil
	}
	return d
}

// storedNames are the names of every draft in the store.
func storedNames(t *testing.T) []string {
	t.Helper()
	ds, unreadable, err := draftStore().List()
	if err != nil || len(unreadable) > 0 {
		t.Fatalf("list drafts: %v %v", err, unreadable)
	}
	names := []string{}
	for _, d := range ds {
		names = append(names, d.Name)
	}
	return names
}

// wantError fails unless err is an error whose text holds every one of
// parts (the bad value, what is accepted).
func wantError(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one naming %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not name %q", err, p)
		}
	}
}

// image is an image the test registry holds.
type image struct {
	ref    string // host/repo:tag
	digest digest.Digest
	desc   imgspecv1.Descriptor // with the platform its config declares
	raw    []byte
}

// putImage stores in s an OCI image of platform os/arch[/variant] (its config
// saying so, one layer) under repo:tag.
func putImage(s *registrystub.Stub, repo, tag, platform string) image {
	return putImageOf(s, imgspecv1.MediaTypeImageManifest, repo, tag, platform)
}

// putDockerImage is putImage with Docker v2s2 media types.
func putDockerImage(s *registrystub.Stub, repo, tag, platform string) image {
	return putImageOf(s, manifest.DockerV2Schema2MediaType, repo, tag, platform)
}

func putImageOf(s *registrystub.Stub, mediaType, repo, tag, platform string) image {
	p, err := manifestlist.ParsePlatform(platform)
	if err != nil {
		panic(err)
	}
	cfgType, layerType := imgspecv1.MediaTypeImageConfig, imgspecv1.MediaTypeImageLayerGzip
	if mediaType == manifest.DockerV2Schema2MediaType {
		cfgType, layerType = manifest.DockerV2Schema2ConfigMediaType, manifest.DockerV2Schema2LayerMediaType
	}
	cfg, _ := json.Marshal(map[string]string{"os": p.OS, "architecture": p.Architecture, "variant": p.Variant})
	layer := []byte("layer of " + repo + ":" + tag)
	raw, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": mediaType,
		"config": map[string]any{"mediaType": cfgType, "digest": s.PutBlob(repo, cfg), "size": len(cfg)},
		"layers": []any{map[string]any{"mediaType": layerType, "digest": s.PutBlob(repo, layer), "size": len(layer)}},
	})
	d := digest.Digest(s.PutManifest(repo, tag, mediaType, raw))
	return image{ref: s.Host + "/" + repo + ":" + tag, digest: d, raw: raw,
		desc: imgspecv1.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(raw)), Platform: &p}}
}

// putIndex stores in s an OCI index of images under repo:tag.
func putIndex(s *registrystub.Stub, repo, tag string, images ...image) image {
	ix := imgspecv1.Index{MediaType: imgspecv1.MediaTypeImageIndex, Manifests: []imgspecv1.Descriptor{}}
	ix.SchemaVersion = 2
	for _, im := range images {
		ix.Manifests = append(ix.Manifests, im.desc)
	}
	raw, _ := json.Marshal(ix)
	d := digest.Digest(s.PutManifest(repo, tag, imgspecv1.MediaTypeImageIndex, raw))
	return image{ref: s.Host + "/" + repo + ":" + tag, digest: d, raw: raw,
		desc: imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageIndex, Digest: d, Size: int64(len(raw))}}
}

// saveDraft writes a draft called name of images (mediaType "", "docker"
// or "oci") to the store, as create would.
func saveDraft(t *testing.T, name, mediaType string, images ...image) {
	t.Helper()
	d := &manifestlist.Draft{Name: name, MediaType: mediaType}
	for _, im := range images {
		d.Entries = append(d.Entries, manifestlist.Entry{Source: im.ref, Descriptor: im.desc, Raw: im.raw})
	}
	if err := draftStore().Save(d); err != nil {
		t.Fatal(err)
	}
}

// entryPlatforms are the platforms of d's entries, in order, with their
// digests: "linux/amd64@sha256:…".
func entryPlatforms(d *manifestlist.Draft) []string {
	out := []string{}
	for _, e := range d.Entries {
		out = append(out, manifestlist.FormatPlatform(e.Descriptor.Platform)+"@"+e.Descriptor.Digest.String())
	}
	return out
}
