package producer

import (
	"context"
	"fmt"

	"github.com/kdp-io/streamprocessor-operator/internal/shardmap"
)

// ShardLister is the part of the Kinesis API the shard map needs.
type ShardLister = shardmap.Lister

// loadShardMap lists the stream's shards (all pages) and builds the map of the
// open ones. Their ranges must cover the whole 128-bit space without gaps or
// overlaps: the producer routes every record, so it waits out a reshard in
// progress on the map it has.
func loadShardMap(ctx context.Context, api ShardLister, stream string) (*shardmap.Map, error) {
	m, err := shardmap.Load(ctx, api, stream)
	if err != nil {
		return nil, err
	}
	if err := m.Tiles(); err != nil {
		return nil, fmt.Errorf("map shards of stream %q: %w", stream, err)
	}
	return m, nil
}
