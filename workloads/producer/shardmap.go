package producer

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kdp-io/streamprocessor-operator/internal/shardmap"
)

// ShardLister is the part of the Kinesis API the shard map needs.
type ShardLister = shardmap.Lister

// newShardMap builds the map of the open shards among all and checks that
// their ranges cover the whole 128-bit space without gaps or overlaps: the
// producer routes every record, so it waits out a reshard in progress.
func newShardMap(all []types.Shard) (*shardmap.Map, error) {
	m, err := shardmap.New(all)
	if err != nil {
		return nil, err
	}
	if err := m.Tiles(); err != nil {
		return nil, err
	}
	return m, nil
}

// loadShardMap lists the stream's shards (all pages) and builds the map of the
// open ones, which must tile the hash key space.
func loadShardMap(ctx context.Context, api ShardLister, stream string) (*shardmap.Map, error) {
	all, err := shardmap.List(ctx, api, stream)
	if err != nil {
		return nil, err
	}
	m, err := newShardMap(all)
	if err != nil {
		return nil, fmt.Errorf("map shards of stream %q: %w", stream, err)
	}
	return m, nil
}
