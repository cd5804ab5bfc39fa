// Command docker-mlist is the Docker CLI plugin behind `docker mlist`.
package main

import (
	"github.com/docker-mlist/docker-mlist/plugin"
	cliplugin "github.com/docker/cli/cli-plugins/plugin"
)

var version = "0.0.0-dev"

func main() {
	plugin.Version = version
	cliplugin.Run(plugin.NewRootCommand, plugin.Metadata())
}
