// Command mkimage pushes a small synthetic single-platform image (real gzip
// tar layers of random bytes, a matching config) to a registry, for demos and
// manual testing:
//
//	mkimage --platform linux/arm/v7 127.0.0.1:5000/app:arm
//
// It prints the manifest digest.
package main

import (
	"crypto/x509"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/docker-mlist/docker-mlist/e2e/internal/harness"
)

func main() {
	platform := flag.String("platform", "linux/amd64", "os/arch[/variant] of the image")
	oci := flag.Bool("oci", false, "write an OCI manifest instead of Docker v2s2")
	layers := flag.Int("layers", 1, "number of layers")
	layerSize := flag.Int("layer-size", 256, "bytes of random content per layer")
	osVersion := flag.String("os-version", "", "os.version of the image (Windows)")
	useTLS := flag.Bool("tls", false, "use HTTPS (default plain HTTP)")
	caFile := flag.String("ca", "", "CA certificate to trust for HTTPS (implies --tls)")
	user := flag.String("u", "", "registry user")
	password := flag.String("p", os.Getenv("MKIMAGE_PASSWORD"), "registry password (default $MKIMAGE_PASSWORD)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: mkimage [flags] HOST/REPO[:TAG]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *platform, harness.ImageOptions{OCI: *oci, Layers: *layers, LayerSize: *layerSize, OSVersion: *osVersion},
		harness.ClientOptions{TLS: *useTLS || *caFile != "", Username: *user, Password: *password}, *caFile); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

func run(ref, platform string, opts harness.ImageOptions, copts harness.ClientOptions, caFile string) error {
	host, rest, ok := strings.Cut(ref, "/")
	if !ok || rest == "" {
		return fmt.Errorf("reference %q has no HOST/ part", ref)
	}
	repo, tag := rest, "latest"
	if i := strings.LastIndex(rest, ":"); i >= 0 {
		repo, tag = rest[:i], rest[i+1:]
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return err
		}
		copts.RootCAs = x509.NewCertPool()
		if !copts.RootCAs.AppendCertsFromPEM(pem) {
			return fmt.Errorf("no certificate in %s", caFile)
		}
	}
	img, err := harness.NewClient(host, copts).PushImage(repo, tag, platform, opts)
	if err != nil {
		return err
	}
	fmt.Println(img.Digest)
	return nil
}
