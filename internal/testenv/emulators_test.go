package testenv_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kdp-io/streamprocessor-operator/internal/awsconfig"
	"github.com/kdp-io/streamprocessor-operator/internal/testenv"
)

// A client that closes its connection before DynamoDB has read its request
// body (a process killed while it writes) loses that request and nothing
// else: the emulator goes on answering, with the request not applied. The
// npm dynalite throws on it and exits, and every later test fails on
// "connection refused" (hack/emulators/dynalite.js).
func TestDynamoDBOutlivesAbandonedRequests(t *testing.T) {
	testenv.Require(t, testenv.DynamoDB)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, err := awsconfig.Load(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	db := dynamodb.NewFromConfig(cfg)
	table := testenv.UniqueName("abandoned")
	if _, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            &table,
		AttributeDefinitions: []dtypes.AttributeDefinition{{AttributeName: aws.String("k"), AttributeType: dtypes.ScalarAttributeTypeS}},
		KeySchema:            []dtypes.KeySchemaElement{{AttributeName: aws.String("k"), KeyType: dtypes.KeyTypeHash}},
		BillingMode:          dtypes.BillingModePayPerRequest,
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &table}) })
	exists := dynamodb.NewTableExistsWaiter(db, func(o *dynamodb.TableExistsWaiterOptions) { o.MinDelay = 100 * time.Millisecond })
	if err := exists.Wait(ctx, &dynamodb.DescribeTableInput{TableName: &table}, 30*time.Second); err != nil {
		t.Fatal(err)
	}

	body := fmt.Sprintf(`{"TableName":%q,"Item":{"k":{"S":"half-sent"}}}`, table)
	for range 3 {
		abandon(t, os.Getenv(testenv.DynamoDB), "DynamoDB_20120810.PutItem", body)
	}

	got, err := db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &table,
		Key:       map[string]dtypes.AttributeValue{"k": &dtypes.AttributeValueMemberS{Value: "half-sent"}},
	})
	if err != nil {
		t.Fatalf("DynamoDB after three abandoned requests: %v", err)
	}
	if got.Item != nil {
		t.Errorf("an abandoned PutItem was applied: %v", got.Item)
	}
}

// abandon sends a request's headers and, once the server has taken the
// request (its "100 Continue" answer to Expect: 100-continue), the first
// half of its body, then closes the connection, as a client killed
// mid-write would.
func abandon(t *testing.T, endpoint, target, body string) {
	t.Helper()
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	head := fmt.Sprintf("POST / HTTP/1.1\r\nHost: %s\r\nX-Amz-Target: %s\r\nExpect: 100-continue\r\n"+
		"Content-Type: application/x-amz-json-1.0\r\nContent-Length: %d\r\n\r\n", u.Host, target, len(body))
	if _, err := conn.Write([]byte(head)); err != nil {
		t.Fatal(err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	status, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.Contains(status, " 100 ") {
		t.Fatalf("the server did not take the request before its body (want 100 Continue): %q, %v", status, err)
	}
	if _, err := conn.Write([]byte(body[:len(body)/2])); err != nil {
		t.Fatal(err)
	}
}
