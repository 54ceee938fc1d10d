package controllers

import "testing"

func TestStatusChanged(t *testing.T) {
	tests := []struct {
		patch string
		want  bool
	}{
		{`{}`, false},
		{`{"metadata":{"resourceVersion":"42"}}`, false},
		{`{"metadata":{"resourceVersion":"42"},"status":{"stream":{"openShards":2}}}`, true},
		{`{"status":{"conditions":null}}`, true},
	}
	for _, tt := range tests {
		if got := statusChanged([]byte(tt.patch)); got != tt.want {
			t.Errorf("statusChanged(%s) = %v, want %v", tt.patch, got, tt.want)
		}
	}
}
