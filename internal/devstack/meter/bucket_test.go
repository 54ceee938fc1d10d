package meter

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)

func TestWriteRecordsBurstThenContinuousRefill(t *testing.T) {
	s := newShardBuckets(DefaultLimits(), t0)
	for i := range 1000 {
		if !s.admitWrite(t0, 10) {
			t.Fatalf("record %d of the first second refused: the burst is one second (1,000 records)", i)
		}
	}
	if s.admitWrite(t0, 10) {
		t.Fatal("record 1,001 within the same instant admitted")
	}
	// 100 ms refill 100 records, no more.
	at := t0.Add(100 * time.Millisecond)
	n := 0
	for s.admitWrite(at, 10) {
		n++
	}
	if n != 100 {
		t.Errorf("after 100 ms %d records admitted, want 100", n)
	}
	// The bucket never holds more than one second, however long it rests.
	at = at.Add(time.Hour)
	n = 0
	for s.admitWrite(at, 1) {
		n++
	}
	if n != 1000 {
		t.Errorf("after an hour idle %d records admitted, want the burst of 1000", n)
	}
}

func TestWriteBytesRefusalKeepsTheRecordToken(t *testing.T) {
	s := newShardBuckets(DefaultLimits(), t0)
	if !s.admitWrite(t0, 1<<20-100) {
		t.Fatal("a record of almost 1 MiB into a full bucket refused")
	}
	if s.admitWrite(t0, 200) {
		t.Fatal("200 bytes admitted with 100 bytes left")
	}
	// The refused record must not have used a record token: 999 small ones fit.
	n := 0
	for s.admitWrite(t0, 0) {
		n++
	}
	if n != 999 {
		t.Errorf("%d zero-byte records admitted after the refusal, want 999", n)
	}
}

func TestRecordLargerThanBurstPassesWhenFullAndIsPaidBack(t *testing.T) {
	l := DefaultLimits()
	s := newShardBuckets(l, t0)
	size := 1<<20 + 256 // a full blob and the longest partition key
	if !s.admitWrite(t0, size) {
		t.Fatal("a maximal record into a full bucket refused")
	}
	// 1 MiB/s refills about 105 bytes in 100 µs: the 256-byte debt remains.
	if s.admitWrite(t0.Add(100*time.Microsecond), 1) {
		t.Error("admitted before the 256-byte debt was refilled")
	}
	if !s.admitWrite(t0.Add(time.Millisecond), 1) {
		t.Error("refused after the debt was refilled")
	}
}

func TestReadCallsFivePerSecond(t *testing.T) {
	s := newShardBuckets(DefaultLimits(), t0)
	for i := range 5 {
		if !s.admitRead(t0) {
			t.Fatalf("call %d refused", i+1)
		}
	}
	if s.admitRead(t0.Add(100 * time.Millisecond)) {
		t.Error("sixth call within a second admitted")
	}
	if !s.admitRead(t0.Add(200 * time.Millisecond)) {
		t.Error("call after 200 ms (one call refilled) refused")
	}
}

func TestReadBytesOverdrawOneCallThenWait(t *testing.T) {
	l := DefaultLimits()
	s := newShardBuckets(l, t0)
	if !s.admitRead(t0) {
		t.Fatal("first call refused")
	}
	s.readBytes.charge(t0, 10<<20, l.MaxReadBytesPerCall) // one call returned 10 MiB
	// 2 MiB - 10 MiB = -8 MiB: paid back after 4 s at 2 MiB/s.
	for _, d := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		if s.admitRead(t0.Add(d)) {
			t.Errorf("call %v after a 10 MiB read admitted; the budget is still overdrawn", d)
		}
	}
	if !s.admitRead(t0.Add(4*time.Second + 100*time.Millisecond)) {
		t.Error("call refused after the overdraft was paid back")
	}
	// The overdraft is bounded by MaxReadBytesPerCall.
	s.readBytes.charge(t0.Add(5*time.Second), 100<<20, l.MaxReadBytesPerCall)
	if !s.admitRead(t0.Add(10*time.Second + 100*time.Millisecond)) {
		t.Error("a read of 100 MiB (impossible in AWS) kept the shard closed longer than 10 MiB does")
	}
}
