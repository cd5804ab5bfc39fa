package main

import (
	cliplugin "github.com/docker/cli/cli-plugins/plugin"
	"github.com/docker/cli/cli-plugins/metadata"
	"github.com/docker/cli/cli/command"
	"github.com/spf13/cobra"
	_ "go.podman.io/image/v5/copy"
	_ "go.podman.io/image/v5/docker"
	_ "go.podman.io/image/v5/manifest"
	_ "go.podman.io/image/v5/signature"
	_ "github.com/moby/moby/client"
	_ "github.com/docker/distribution/registry/client/auth"
	_ "github.com/docker/cli/cli/manifest/store"
	_ "gopkg.in/yaml.v3"
	_ "go.podman.io/image/v5/oci/layout"
	_ "go.podman.io/image/v5/oci/archive"
	_ "go.podman.io/image/v5/docker/archive"
)

func main() {
	cliplugin.Run(func(c command.Cli) *cobra.Command { return &cobra.Command{Use: "mlist"} }, metadata.Metadata{SchemaVersion: "0.1.0", Vendor: "x"})
}
