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

// Endpoint is a repository reached through a registry client.
type Endpoint struct {
	Client     *registry.Client
	Repository string
	// New marks a destination repository known to hold nothing yet, so
	// nothing is checked for before it is written.
	New bool
}

func (e Endpoint) String() string { return e.Client.Host + "/" + e.Repository }

// Manifest is one manifest to transfer. Raw may be nil: it is then read from
// the source, and only if the destination lacks it.
type Manifest struct {
	Digest    digest.Digest
	MediaType string
	Raw       []byte
	// Tag, when set, is where the manifest is put instead of its digest.
	Tag string
}

// Transfer makes manifest m of src present in dst with the same digest: a
// HEAD when dst already has it; otherwise each missing blob is mounted (same
// registry) or streamed (another registry, or a registry that declines the
// mount), a list's entries are transferred first, and the manifest is put by
// digest with its exact bytes, last.
func Transfer(ctx context.Context, src, dst Endpoint, m Manifest, stats *Stats) error {
	present := false
	if dst.New {
		// Nothing to find: skip the HEAD.
	} else if _, err := dst.Client.HeadManifest(ctx, dst.Repository, m.Digest.String()); err == nil {
		present = true
		stats.add(func(s *Stats) { s.Present++ })
		if m.Tag == "" {
			return nil
		}
	} else if !errors.Is(err, registry.ErrNotFound) {
		return err
	}
	if m.Raw == nil {
		raw, desc, err := src.Client.GetManifest(ctx, src.Repository, m.Digest.String())
		if err != nil {
			return err
		}
		m.Raw = raw
		if m.MediaType == "" {
			m.MediaType = desc.MediaType
		}
	}
	if !present {
		if err := transferContent(ctx, src, dst, m, stats); err != nil {
			return err
		}
	}
	ref := m.Digest.String()
	if m.Tag != "" {
		ref = m.Tag
	}
	if _, err := dst.Client.PutManifest(ctx, dst.Repository, ref, m.Raw, m.MediaType); err != nil {
		return err
	}
	if !present {
		stats.add(func(s *Stats) { s.Manifests++ })
		stats.progress("copied %s to %s", m.Digest, dst)
	}
	return nil
}

// transferContent brings what a manifest refers to: a list's entries, or an
// image's blobs.
func transferContent(ctx context.Context, src, dst Endpoint, m Manifest, stats *Stats) error {
	children, err := listChildren(m.Raw)
	if err != nil {
		return fmt.Errorf("%s@%s: %w", src, m.Digest, err)
	}
	if children != nil {
		return ForEach(ctx, children, func(ctx context.Context, _ int, c Manifest) error {
			return Transfer(ctx, src, dst, c, stats)
		})
	}
	blobs, err := Blobs(m.Raw)
	if err != nil {
		return fmt.Errorf("%s@%s: %w", src, m.Digest, err)
	}
	return ForEach(ctx, blobs, func(ctx context.Context, _ int, b registry.Descriptor) error {
		return transferBlob(ctx, src, dst, b, stats)
	})
}

// listChildren returns a list's entries, or nil for a single image.
func listChildren(raw []byte) ([]Manifest, error) {
	var l struct {
		Manifests []struct {
			MediaType string        `json:"mediaType"`
			Digest    digest.Digest `json:"digest"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal(raw, &l); err != nil {
		return nil, fmt.Errorf("parse manifest: %w", err)
	}
	if l.Manifests == nil {
		return nil, nil
	}
	out := make([]Manifest, 0, len(l.Manifests))
	for _, d := range l.Manifests {
		out = append(out, Manifest{Digest: d.Digest, MediaType: d.MediaType})
	}
	return out, nil
}

func transferBlob(ctx context.Context, src, dst Endpoint, b registry.Descriptor, stats *Stats) error {
	stats.add(func(s *Stats) { s.BlobsSeen++ })
	if src.Client.Host == dst.Client.Host {
		// A mount answers 201 for a blob the target already links too, so no HEAD first.
		ok, err := dst.Client.MountBlob(ctx, dst.Repository, src.Repository, b.Digest)
		if err != nil {
			return err
		}
		if ok {
			stats.add(func(s *Stats) { s.Mounted++ })
			return nil
		}
	} else if dst.New {
		// Nothing to find: upload without asking.
	} else if ok, err := dst.Client.BlobExists(ctx, dst.Repository, b.Digest); err != nil {
		return err
	} else if ok {
		stats.add(func(s *Stats) { s.BlobsPresent++ })
		return nil
	}
	select {
	case streams() <- struct{}{}:
		defer func() { <-streams() }()
	case <-ctx.Done():
		return ctx.Err()
	}
	body, size, err := src.Client.GetBlob(ctx, src.Repository, b.Digest)
	if err != nil {
		return err
	}
	defer body.Close()
	if size < 0 {
		size = b.Size
	}
	stats.startBlob(b.Digest, size)
	defer stats.endBlob(b.Digest)
	if err := dst.Client.UploadBlob(ctx, dst.Repository, b.Digest, size, &countingReader{r: body, digest: b.Digest, stats: stats}); err != nil {
		return err
	}
	stats.add(func(s *Stats) { s.Uploaded++ })
	return nil
}

// Jobs is how many transfers or fetches run at once (--jobs); process-wide,
// since a command runs one copy.
var Jobs = 6

// streams bounds the blob streams of the whole process to Jobs: transfers
// nest (lists, images, blobs), so per-level limits alone would multiply.
var streams = sync.OnceValue(func() chan struct{} { return make(chan struct{}, Jobs) })

// ForEach runs f over items, Jobs at a time, and returns the first error,
// cancelling the others.
func ForEach[T any](ctx context.Context, items []T, f func(ctx context.Context, i int, item T) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, Jobs)
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	for i, it := range items {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := f(ctx, i, it); err != nil {
				once.Do(func() { firstErr = err; cancel() })
			}
		}()
	}
	wg.Wait()
	return firstErr
}
