package ecs

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
)

// TaskDefinitionCache remembers DescribeTaskDefinition answers for full
// revision ARNs: a registered revision never changes, so one description
// serves every later pass. A family name (its latest revision) is never
// cached. It holds at most Size answers (the oldest go first) and drops a
// revision when it is deregistered through Wrap. Safe for concurrent use.
type TaskDefinitionCache struct {
	size int

	mu    sync.Mutex
	byARN map[string]*ecs.DescribeTaskDefinitionOutput
	order []string // insertion order, for eviction
}

// NewTaskDefinitionCache returns a cache of at most size revisions.
func NewTaskDefinitionCache(size int) *TaskDefinitionCache {
	return &TaskDefinitionCache{size: size, byARN: map[string]*ecs.DescribeTaskDefinitionOutput{}}
}

// Wrap returns api with DescribeTaskDefinition of a revision ARN answered
// from the cache (the API is asked once per ARN) and DeregisterTaskDefinition
// dropping its revision. A nil cache returns api.
func (c *TaskDefinitionCache) Wrap(api API) API {
	if c == nil {
		return api
	}
	return cachedTaskDefinitions{API: api, c: c}
}

// Len is the number of revisions held.
func (c *TaskDefinitionCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byARN)
}

type cachedTaskDefinitions struct {
	API
	c *TaskDefinitionCache
}

// isRevisionARN: arn:aws:ecs:<region>:<account>:task-definition/<family>:<revision>.
func isRevisionARN(ref string) bool {
	i := strings.Index(ref, ":task-definition/")
	return strings.HasPrefix(ref, "arn:") && i > 0 && strings.Contains(ref[i+len(":task-definition/"):], ":")
}

// cacheKey is the ARN and whether tags were asked for: an answer without
// tags must not serve a call that wants them.
func cacheKey(in *ecs.DescribeTaskDefinitionInput) string {
	k := aws.ToString(in.TaskDefinition)
	if len(in.Include) > 0 {
		k += "|tags"
	}
	return k
}

func (w cachedTaskDefinitions) DescribeTaskDefinition(ctx context.Context, in *ecs.DescribeTaskDefinitionInput, optFns ...func(*ecs.Options)) (*ecs.DescribeTaskDefinitionOutput, error) {
	ref := aws.ToString(in.TaskDefinition)
	if !isRevisionARN(ref) {
		return w.API.DescribeTaskDefinition(ctx, in, optFns...)
	}
	key := cacheKey(in)
	if out, ok := w.c.get(key); ok {
		return out, nil
	}
	out, err := w.API.DescribeTaskDefinition(ctx, in, optFns...)
	if err == nil && out.TaskDefinition != nil && out.TaskDefinition.Status == "ACTIVE" {
		w.c.put(key, out)
	}
	return out, err
}

func (w cachedTaskDefinitions) DeregisterTaskDefinition(ctx context.Context, in *ecs.DeregisterTaskDefinitionInput, optFns ...func(*ecs.Options)) (*ecs.DeregisterTaskDefinitionOutput, error) {
	out, err := w.API.DeregisterTaskDefinition(ctx, in, optFns...)
	// Dropped whatever the answer: a deregistration that failed half-way
	// is read again next time.
	ref := aws.ToString(in.TaskDefinition)
	w.c.drop(ref, ref+"|tags")
	return out, err
}

func (c *TaskDefinitionCache) get(key string) (*ecs.DescribeTaskDefinitionOutput, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out, ok := c.byARN[key]
	return out, ok
}

func (c *TaskDefinitionCache) put(key string, out *ecs.DescribeTaskDefinitionOutput) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byARN[key]; ok {
		return
	}
	for len(c.byARN) >= c.size && len(c.order) > 0 {
		delete(c.byARN, c.order[0])
		c.order = c.order[1:]
	}
	c.byARN[key] = out
	c.order = append(c.order, key)
}

func (c *TaskDefinitionCache) drop(keys ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		if _, ok := c.byARN[k]; ok {
			delete(c.byARN, k)
			c.order = slices.DeleteFunc(c.order, func(o string) bool { return o == k })
		}
	}
}
