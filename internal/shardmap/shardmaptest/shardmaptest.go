// Package shardmaptest builds ListShards results for tests of code that
// routes by hash key range: open and closed shards, and even splits of the
// hash key space as UpdateShardCount leaves them.
package shardmaptest

import (
	"fmt"
	"math/big"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// MaxHashKey is 2^128-1 in decimal, the end of the last shard's range.
const MaxHashKey = "340282366920938463463374607431768211455"

// Open returns an open shard (no ending sequence number) with the range
// [start, end], both decimal.
func Open(id, start, end string) types.Shard {
	return types.Shard{
		ShardId:             aws.String(id),
		HashKeyRange:        &types.HashKeyRange{StartingHashKey: aws.String(start), EndingHashKey: aws.String(end)},
		SequenceNumberRange: &types.SequenceNumberRange{StartingSequenceNumber: aws.String("1")},
	}
}

// Closed returns a shard closed by a reshard, with the range [start, end].
func Closed(id, start, end string) types.Shard {
	s := Open(id, start, end)
	s.SequenceNumberRange.EndingSequenceNumber = aws.String("2")
	return s
}

// Even splits the hash key space evenly into n open shards with the ids
// shardId-<firstID> onwards; the last one ends at 2^128-1.
func Even(n, firstID int) []types.Shard {
	max := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))
	step := new(big.Int).Div(new(big.Int).Add(max, big.NewInt(1)), big.NewInt(int64(n)))
	var out []types.Shard
	for i := range n {
		start := new(big.Int).Mul(step, big.NewInt(int64(i)))
		end := new(big.Int).Sub(new(big.Int).Add(start, step), big.NewInt(1))
		if i == n-1 {
			end = max
		}
		out = append(out, Open(fmt.Sprintf("shardId-%012d", firstID+i), start.String(), end.String()))
	}
	return out
}
