// Command docker-mlist is the Docker CLI plugin behind `docker mlist`.
package main

import (
	"github.com/docker-mlist/docker-mlist/plugin"
	cliplugin "github.com/docker/cli/cli-plugins/plugin"
)

// Stamped by the build: -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "0.0.0-dev"
	commit  = ""
)

func main() {
	plugin.Version, plugin.Commit = version, commit
	cliplugin.Run(plugin.NewRootCommand, plugin.Metadata())
}
