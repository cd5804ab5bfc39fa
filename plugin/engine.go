package plugin

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/docker/cli/cli/command"
	registrytypes "github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/client"
	"github.com/sirupsen/logrus"
)

// engineTimeout bounds what an absent or slow engine can add to a command.
const engineTimeout = 2 * time.Second

// engineRegistries asks the current context's engine, once per process and
// only when a decision needs it, which registries it treats as insecure:
// what `docker push` honours and `docker manifest` ignores.
type engineRegistries struct {
	once   sync.Once
	config *registrytypes.ServiceConfig
}

var engine engineRegistries

func (e *engineRegistries) get(dockerCLI command.Cli) *registrytypes.ServiceConfig {
	e.once.Do(func() {
		cfg, err := queryEngine(dockerCLI)
		if err != nil {
			logrus.Debugf("engine registry settings not used: %v", err)
			return
		}
		e.config = cfg
	})
	return e.config
}

func queryEngine(dockerCLI command.Cli) (*registrytypes.ServiceConfig, error) {
	// Client() exits the process on a context it cannot resolve; check first.
	if _, err := dockerCLI.ContextStore().GetMetadata(dockerCLI.CurrentContext()); err != nil && dockerCLI.CurrentContext() != "default" {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), engineTimeout)
	defer cancel()
	res, err := dockerCLI.Client().Info(ctx, client.InfoOptions{})
	if err != nil {
		if client.IsErrConnectionFailed(err) {
			return nil, errors.New("no Docker engine reachable")
		}
		return nil, err
	}
	if res.Info.RegistryConfig == nil {
		return nil, errors.New("engine reported no registry configuration")
	}
	return res.Info.RegistryConfig, nil
}

// engineInsecure applies the engine's rules: an index config marked not
// secure, or an address inside an insecure CIDR.
func engineInsecure(cfg *registrytypes.ServiceConfig, host string) bool {
	if cfg == nil {
		return false
	}
	if ic, ok := cfg.IndexConfigs[host]; ok && ic != nil {
		return !ic.Secure
	}
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(name); err == nil {
		addrs = append(addrs, a)
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), engineTimeout)
		defer cancel()
		ips, _ := net.DefaultResolver.LookupNetIP(ctx, "ip", name)
		addrs = ips
	}
	for _, a := range addrs {
		for _, p := range cfg.InsecureRegistryCIDRs {
			if p.Contains(a.Unmap()) {
				return true
			}
		}
	}
	return false
}
