package ecstask

import (
	"slices"
	"testing"
)

func TestEnviron(t *testing.T) {
	task := Task{Env: map[string]string{
		"STREAM_NAME": "s", "AWS_REGION": "eu-west-1", "PORT": "8080",
	}}
	host := []string{
		"PATH=/usr/bin", "HOME=/root", "AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1", "AWS_PROFILE=dev",
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=secret", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_ENDPOINT_URL_KINESIS=http://127.0.0.1:4568", "AWS_ENDPOINT_URL=http://127.0.0.1:1", "STREAM_NAME=host",
	}
	got := task.Environ(host, map[string]string{"PORT": "40000", "OUTPUT": "/tmp/out"})
	want := []string{
		"AWS_ACCESS_KEY_ID=test",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_ENDPOINT_URL=http://127.0.0.1:1",
		"AWS_ENDPOINT_URL_KINESIS=http://127.0.0.1:4568",
		"AWS_REGION=eu-west-1",
		"AWS_SECRET_ACCESS_KEY=secret",
		"OUTPUT=/tmp/out",
		"PORT=40000",
		"STREAM_NAME=s",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Environ:\n got %q\nwant %q", got, want)
	}
}

func TestEnvironKeepsRegionOutUnlessTaskHasIt(t *testing.T) {
	got := Task{Env: map[string]string{"STREAM_NAME": "s"}}.Environ([]string{"AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1"}, nil)
	if !slices.Equal(got, []string{"STREAM_NAME=s"}) {
		t.Errorf("Environ = %q: the host's region must not stand in for the task definition's", got)
	}
}
