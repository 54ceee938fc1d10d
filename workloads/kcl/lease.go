package kcl

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DynamoDBAPI is the part of the DynamoDB client the lease table needs, with the
// SDK's signatures (*dynamodb.Client satisfies it).
type DynamoDBAPI interface {
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// Lease table attribute names: the KCL lease schema.
const (
	attrLeaseKey       = "leaseKey"
	attrLeaseOwner     = "leaseOwner"
	attrLeaseCounter   = "leaseCounter"
	attrCheckpoint     = "checkpoint"
	attrCheckpointSub  = "checkpointSubSequenceNumber"
	attrOwnerSwitches  = "ownerSwitchesSinceCheckpoint"
	attrParentShardIDs = "parentShardIds"
	// attrHandoverTo is ours, not the KCL's (which ignores it): a worker that
	// wants to steal the lease asks its owner to finish, checkpoint and
	// release it first.
	attrHandoverTo = "handoverTo"
)

// ErrLeaseConflict means a conditional write to the lease table failed: someone
// else changed the lease since it was read.
var ErrLeaseConflict = errors.New("lease changed concurrently")

// ErrLeaseLost means this worker no longer holds the lease it tried to use.
var ErrLeaseLost = errors.New("lease lost")

// Lease is one row of the lease table: the lease on one shard.
type Lease struct {
	// Key is the shard id.
	Key string
	// Owner is the worker holding the lease; empty when nobody does.
	Owner string
	// Counter increments on every change; writers condition on it.
	Counter                      int64
	Checkpoint                   ExtendedSequenceNumber
	OwnerSwitchesSinceCheckpoint int64
	ParentShardIDs               []string
	// HandoverTo names a worker that asked for the lease (RequestHandover).
	HandoverTo string
}

// Finished reports whether the shard has been processed to its end.
func (l Lease) Finished() bool { return l.Checkpoint.SequenceNumber == CheckpointShardEnd }

// LeaseStore reads and writes the lease table. Every change is a conditional
// write on leaseCounter (and leaseOwner where ownership matters), and returns
// ErrLeaseConflict when the condition fails.
type LeaseStore struct {
	DB    DynamoDBAPI
	Table string
}

// EnsureTable creates the lease table (hash key leaseKey, on-demand billing) if
// it does not exist and waits until it is ACTIVE.
func (s *LeaseStore) EnsureTable(ctx context.Context) error {
	for {
		out, err := s.DB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.Table)})
		var nf *types.ResourceNotFoundException
		switch {
		case errors.As(err, &nf):
			_, err = s.DB.CreateTable(ctx, &dynamodb.CreateTableInput{
				TableName:            aws.String(s.Table),
				AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(attrLeaseKey), AttributeType: types.ScalarAttributeTypeS}},
				KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(attrLeaseKey), KeyType: types.KeyTypeHash}},
				BillingMode:          types.BillingModePayPerRequest,
			})
			var inUse *types.ResourceInUseException
			if err != nil && !errors.As(err, &inUse) {
				return fmt.Errorf("create lease table %q: %w", s.Table, err)
			}
		case err != nil:
			return fmt.Errorf("describe lease table %q: %w", s.Table, err)
		case out.Table != nil:
			if err := checkSchema(s.Table, out.Table); err != nil {
				return err
			}
			if out.Table.TableStatus == types.TableStatusActive {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for lease table %q: %w", s.Table, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// ErrWrongSchema means the lease table exists with another key schema than
// the KCL's (hash key leaseKey of type S alone): the table belongs to
// something else, and the worker cannot use it. Retrying does not help until
// the table is deleted or APPLICATION_NAME changed.
var ErrWrongSchema = errors.New("lease table has the wrong key schema")

func checkSchema(table string, d *types.TableDescription) error {
	var got []string
	for _, k := range d.KeySchema {
		typ := "?"
		for _, a := range d.AttributeDefinitions {
			if aws.ToString(a.AttributeName) == aws.ToString(k.AttributeName) {
				typ = string(a.AttributeType)
			}
		}
		got = append(got, fmt.Sprintf("%s %s (%s)", k.KeyType, aws.ToString(k.AttributeName), typ))
	}
	if len(got) == 1 && got[0] == fmt.Sprintf("%s %s (%s)", types.KeyTypeHash, attrLeaseKey, types.ScalarAttributeTypeS) {
		return nil
	}
	return fmt.Errorf("%w: table %q has key %v; want HASH %s (S) alone — delete the table or use another application name",
		ErrWrongSchema, table, got, attrLeaseKey)
}

// List returns every lease, sorted by key, with a strongly consistent scan.
func (s *LeaseStore) List(ctx context.Context) ([]Lease, error) {
	var leases []Lease
	var start map[string]types.AttributeValue
	for {
		out, err := s.DB.Scan(ctx, &dynamodb.ScanInput{
			TableName:         aws.String(s.Table),
			ConsistentRead:    aws.Bool(true),
			ExclusiveStartKey: start,
		})
		if err != nil {
			return nil, fmt.Errorf("scan lease table %q: %w", s.Table, err)
		}
		for _, item := range out.Items {
			l, err := leaseFromItem(item)
			if err != nil {
				return nil, err
			}
			leases = append(leases, l)
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		start = out.LastEvaluatedKey
	}
	sort.Slice(leases, func(i, j int) bool { return leases[i].Key < leases[j].Key })
	return leases, nil
}

// Create writes a new unowned lease if none exists for its key; it reports
// false (and no error) when the lease already exists.
func (s *LeaseStore) Create(ctx context.Context, l Lease) (bool, error) {
	item := map[string]types.AttributeValue{
		attrLeaseKey:      &types.AttributeValueMemberS{Value: l.Key},
		attrLeaseCounter:  num(0),
		attrCheckpoint:    &types.AttributeValueMemberS{Value: l.Checkpoint.SequenceNumber},
		attrCheckpointSub: num(l.Checkpoint.SubSequenceNumber),
		attrOwnerSwitches: num(0),
	}
	if len(l.ParentShardIDs) > 0 {
		item[attrParentShardIDs] = &types.AttributeValueMemberSS{Value: l.ParentShardIDs}
	}
	_, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(s.Table),
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(leaseKey)"),
	})
	if isConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("create lease %q: %w", l.Key, err)
	}
	return true, nil
}

// Take makes owner the holder of l, provided its counter is still l.Counter
// (the value the caller observed). It works for unowned, expired and stolen
// leases alike and returns the lease as written.
func (s *LeaseStore) Take(ctx context.Context, l Lease, owner string) (Lease, error) {
	switches := int64(0)
	if l.Owner != owner {
		switches = 1
	}
	out, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.Table),
		Key:                 key(l.Key),
		UpdateExpression:    aws.String("SET leaseOwner = :owner, leaseCounter = :next ADD ownerSwitchesSinceCheckpoint :switches REMOVE handoverTo"),
		ConditionExpression: aws.String("attribute_exists(leaseKey) AND leaseCounter = :counter"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":owner": &types.AttributeValueMemberS{Value: owner}, ":next": num(l.Counter + 1),
			":counter": num(l.Counter), ":switches": num(switches),
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	if err != nil {
		return Lease{}, s.writeErr("take", l.Key, err)
	}
	return leaseFromItem(out.Attributes)
}

// Renew increments the counter of a lease held by l.Owner, proving it alive.
func (s *LeaseStore) Renew(ctx context.Context, l Lease) (Lease, error) {
	return s.updateHeld(ctx, "renew", l, "SET leaseCounter = :next", nil)
}

// Checkpoint writes cp as the lease's checkpoint, resetting
// ownerSwitchesSinceCheckpoint, provided l.Owner still holds it at l.Counter.
func (s *LeaseStore) Checkpoint(ctx context.Context, l Lease, cp ExtendedSequenceNumber) (Lease, error) {
	return s.updateHeld(ctx, "checkpoint", l,
		"SET leaseCounter = :next, checkpoint = :cp, checkpointSubSequenceNumber = :sub, ownerSwitchesSinceCheckpoint = :zero",
		map[string]types.AttributeValue{
			":cp": &types.AttributeValueMemberS{Value: cp.SequenceNumber}, ":sub": num(cp.SubSequenceNumber), ":zero": num(0),
		})
}

// Release removes l.Owner from a lease it holds, so any worker can take it at
// once instead of waiting for it to expire.
func (s *LeaseStore) Release(ctx context.Context, l Lease) error {
	_, err := s.updateHeld(ctx, "release", l, "REMOVE leaseOwner, handoverTo SET leaseCounter = :next", nil)
	return err
}

// RequestHandover asks the owner of l (still l.Owner) to hand the lease over:
// to finish its batch, checkpoint and release it, so that to can take it
// without a repeated batch. It leaves leaseCounter alone, so the owner's
// renewals and checkpoints go on; the owner sees the request in their answers.
func (s *LeaseStore) RequestHandover(ctx context.Context, l Lease, to string) error {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.Table),
		Key:                 key(l.Key),
		UpdateExpression:    aws.String("SET handoverTo = :to"),
		ConditionExpression: aws.String("leaseOwner = :owner"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":to": &types.AttributeValueMemberS{Value: to}, ":owner": &types.AttributeValueMemberS{Value: l.Owner},
		},
	})
	if err != nil {
		return s.writeErr("request hand-over of", l.Key, err)
	}
	return nil
}

// updateHeld applies update (which sets leaseCounter to :next) to a lease
// that l.Owner still holds at l.Counter, with values beyond :owner, :next
// and :counter from extra, and returns the lease as written.
func (s *LeaseStore) updateHeld(ctx context.Context, op string, l Lease, update string, extra map[string]types.AttributeValue) (Lease, error) {
	values := map[string]types.AttributeValue{
		":owner": &types.AttributeValueMemberS{Value: l.Owner}, ":next": num(l.Counter + 1), ":counter": num(l.Counter),
	}
	maps.Copy(values, extra)
	out, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.Table),
		Key:                       key(l.Key),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String("leaseCounter = :counter AND leaseOwner = :owner"),
		ExpressionAttributeValues: values,
		ReturnValues:              types.ReturnValueAllNew,
	})
	if err != nil {
		return Lease{}, s.writeErr(op, l.Key, err)
	}
	return leaseFromItem(out.Attributes)
}

// DeleteFinished deletes the lease of a shard checkpointed at SHARD_END.
func (s *LeaseStore) DeleteFinished(ctx context.Context, shardID string) error {
	_, err := s.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.Table),
		Key:                       key(shardID),
		ConditionExpression:       aws.String("checkpoint = :end"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":end": &types.AttributeValueMemberS{Value: CheckpointShardEnd}},
	})
	if err != nil {
		return s.writeErr("delete", shardID, err)
	}
	return nil
}

func (s *LeaseStore) writeErr(op, shardID string, err error) error {
	if isConditionFailed(err) {
		return fmt.Errorf("%s lease %q: %w", op, shardID, ErrLeaseConflict)
	}
	return fmt.Errorf("%s lease %q: %w", op, shardID, err)
}

func isConditionFailed(err error) bool {
	var cf *types.ConditionalCheckFailedException
	return errors.As(err, &cf)
}

func key(shardID string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrLeaseKey: &types.AttributeValueMemberS{Value: shardID}}
}

func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func leaseFromItem(item map[string]types.AttributeValue) (Lease, error) {
	var l Lease
	str := func(name string) string {
		if v, ok := item[name].(*types.AttributeValueMemberS); ok {
			return v.Value
		}
		return ""
	}
	number := func(name string) (int64, error) {
		v, ok := item[name].(*types.AttributeValueMemberN)
		if !ok {
			return 0, nil
		}
		n, err := strconv.ParseInt(v.Value, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("read lease attribute %s=%q: %w", name, v.Value, err)
		}
		return n, nil
	}
	l.Key = str(attrLeaseKey)
	if l.Key == "" {
		return Lease{}, fmt.Errorf("read lease: item without %s", attrLeaseKey)
	}
	l.Owner = str(attrLeaseOwner)
	l.HandoverTo = str(attrHandoverTo)
	l.Checkpoint.SequenceNumber = str(attrCheckpoint)
	var err error
	if l.Counter, err = number(attrLeaseCounter); err != nil {
		return Lease{}, err
	}
	if l.Checkpoint.SubSequenceNumber, err = number(attrCheckpointSub); err != nil {
		return Lease{}, err
	}
	if l.OwnerSwitchesSinceCheckpoint, err = number(attrOwnerSwitches); err != nil {
		return Lease{}, err
	}
	if v, ok := item[attrParentShardIDs].(*types.AttributeValueMemberSS); ok {
		l.ParentShardIDs = append([]string(nil), v.Value...)
		sort.Strings(l.ParentShardIDs)
	}
	return l, nil
}
