// Package copy moves manifests and blobs between repositories and registries.
package copy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/docker-mlist/docker-mlist/registry"
	"github.com/opencontainers/go-digest"
)

// Stats counts what a transfer did, for progress lines and benchmarks.
type Stats struct {
	mu                           sync.Mutex
	Manifests, Present           int // manifests written / already there
	Mounted, Uploaded, BlobsSeen int
	BytesUploaded                int64
}

func (s *Stats) add(f func(*Stats)) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

// Blobs lists the config and layer digests a single-image manifest needs in
// its repository. Layers with URLs (Windows foreign layers) live outside the
// registry and are skipped, as docker push does.
func Blobs(raw []byte) ([]registry.Descriptor, error) {
	var m struct {
		Config *struct {
			MediaType string        `json:"mediaType"`
			Digest    digest.Digest `json:"digest"`
			Size      int64         `json:"size"`
		} `json:"config"`
		Layers []struct {
			MediaType string        `json:"mediaType"`
			Digest    digest.Digest `json:"digest"`
			Size      int64         `json:"size"`
			URLs      []string      `json:"urls"`
		} `json:"layers"`
		Manifests json.RawMessage `json:"manifests"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("parse manifest: %w", err)
	}
	if m.Manifests != nil {
		return nil, errors.New("a list cannot be an entry of a list")
	}
	var out []registry.Descriptor
	if m.Config != nil {
		out = append(out, registry.Descriptor{MediaType: m.Config.MediaType, Digest: m.Config.Digest, Size: m.Config.Size})
	}
	for _, l := range m.Layers {
		if len(l.URLs) > 0 {
			continue
		}
		out = append(out, registry.Descriptor{MediaType: l.MediaType, Digest: l.Digest, Size: l.Size})
	}
	return out, nil
}

// Promote makes the manifest raw (digest d, in srcRepo) present in dstRepo of
// the same registry: a HEAD when it is already there; otherwise its blobs are
// mounted (uploaded through the client when the registry declines a mount)
// and the manifest is put by digest with its exact bytes, so d is unchanged.
func Promote(ctx context.Context, c *registry.Client, srcRepo, dstRepo string, d digest.Digest, raw []byte, mediaType string, stats *Stats) error {
	if _, err := c.HeadManifest(ctx, dstRepo, d.String()); err == nil {
		stats.add(func(s *Stats) { s.Present++ })
		return nil
	} else if !errors.Is(err, registry.ErrNotFound) {
		return err
	}
	blobs, err := Blobs(raw)
	if err != nil {
		return fmt.Errorf("%s/%s@%s: %w", c.Host, srcRepo, d, err)
	}
	if err := forEach(ctx, blobs, func(ctx context.Context, b registry.Descriptor) error {
		return mountOrUpload(ctx, c, srcRepo, dstRepo, b, stats)
	}); err != nil {
		return err
	}
	if _, err := c.PutManifest(ctx, dstRepo, d.String(), raw, mediaType); err != nil {
		return err
	}
	stats.add(func(s *Stats) { s.Manifests++ })
	return nil
}

func mountOrUpload(ctx context.Context, c *registry.Client, srcRepo, dstRepo string, b registry.Descriptor, stats *Stats) error {
	stats.add(func(s *Stats) { s.BlobsSeen++ })
	// A mount answers 201 for a blob the target already links too, so no HEAD first.
	ok, err := c.MountBlob(ctx, dstRepo, srcRepo, b.Digest)
	if err != nil {
		return err
	}
	if ok {
		stats.add(func(s *Stats) { s.Mounted++ })
		return nil
	}
	body, size, err := c.GetBlob(ctx, srcRepo, b.Digest)
	if err != nil {
		return err
	}
	defer body.Close()
	if size < 0 {
		size = b.Size
	}
	if err := c.UploadBlob(ctx, dstRepo, b.Digest, size, body); err != nil {
		return err
	}
	stats.add(func(s *Stats) { s.Uploaded++; s.BytesUploaded += size })
	return nil
}

// forEach runs f over items with bounded concurrency and returns the first error.
func forEach[T any](ctx context.Context, items []T, f func(context.Context, T) error) error {
	const jobs = 6
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, jobs)
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	for _, it := range items {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := f(ctx, it); err != nil {
				once.Do(func() { firstErr = err; cancel() })
			}
		}()
	}
	wg.Wait()
	return firstErr
}
