package consumer

// The KCL MultiLang protocol, the consumer side: what the Java MultiLangDaemon
// (software.amazon.kinesis.multilang) does, so record processors written for
// it — amazon_kclpy (Python), the Node.js and Ruby KCLs — run unchanged. One
// subprocess per shard lease; one JSON object per line on its stdin and
// stdout; the subprocess answers every action with
// {"action":"status","responseFor":<action>} and may, while handling
// processRecords, shardEnded or shutdownRequested, send
// {"action":"checkpoint","sequenceNumber":…,"subSequenceNumber":…}, which is
// answered after the checkpoint is written (or failed) with the same message
// plus "error": the simple name of the exception the Java checkpointer throws.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/aws/smithy-go"

	"github.com/kdp-io/streamprocessor-operator/workloads/kcl"
)

// Checkpoint error names sent to the processor, as the Java daemon sends them
// (the simple class name of the exception its checkpointer threw).
const (
	// ErrNameShutdown: the lease is lost; the processor must not checkpoint again.
	ErrNameShutdown = "ShutdownException"
	// ErrNameThrottling: the lease table throttled the write; retry later.
	ErrNameThrottling = "ThrottlingException"
	// ErrNameInvalidState: checkpointing is not possible now (during
	// initialize or leaseLost, which carry no checkpointer).
	ErrNameInvalidState = "InvalidStateException"
	// ErrNameIllegalArgument: the sequence number is not a delivered record,
	// or lies before the current checkpoint.
	ErrNameIllegalArgument = "IllegalArgumentException"
	// ErrNameDependency: any other failure of the lease table.
	ErrNameDependency = "KinesisClientLibDependencyException"
)

// mlMessage is every message of the protocol, in both directions; unused
// fields are left out of the JSON except where the daemon always sends them.
type mlMessage struct {
	Action string `json:"action"`
	// ResponseFor is the action a status message answers.
	ResponseFor string `json:"responseFor,omitempty"`
}

// mlInitialize is the initialize message.
type mlInitialize struct {
	Action            string  `json:"action"`
	ShardID           string  `json:"shardId"`
	SequenceNumber    *string `json:"sequenceNumber"`
	SubSequenceNumber *int64  `json:"subSequenceNumber"`
}

// mlRecord is one user record in processRecords, as the daemon's
// JsonFriendlyRecord: data is base64 (Jackson writes byte[] so).
type mlRecord struct {
	Action                      string `json:"action"`
	Data                        string `json:"data"`
	PartitionKey                string `json:"partitionKey"`
	SequenceNumber              string `json:"sequenceNumber"`
	SubSequenceNumber           int64  `json:"subSequenceNumber"`
	ApproximateArrivalTimestamp *int64 `json:"approximateArrivalTimestamp"`
}

type mlProcessRecords struct {
	Action             string     `json:"action"`
	Records            []mlRecord `json:"records"`
	MillisBehindLatest int64      `json:"millisBehindLatest"`
}

// mlCheckpoint is a checkpoint request from the processor and its answer.
type mlCheckpoint struct {
	Action            string  `json:"action"`
	SequenceNumber    *string `json:"sequenceNumber"`
	SubSequenceNumber *int64  `json:"subSequenceNumber"`
	Error             *string `json:"error"`
}

// Protocol actions.
const (
	actionInitialize        = "initialize"
	actionProcessRecords    = "processRecords"
	actionLeaseLost         = "leaseLost"
	actionShardEnded        = "shardEnded"
	actionShutdownRequested = "shutdownRequested"
	actionCheckpoint        = "checkpoint"
	actionStatus            = "status"
)

// ErrProcessorFailed means a MultiLang processor subprocess exited, could not
// be started, answered out of protocol or did not answer in time.
var ErrProcessorFailed = errors.New("record processor subprocess failed")

// mlSession is one running processor subprocess and the protocol spoken with
// it. Its methods are called from the shard's goroutine only.
type mlSession struct {
	shardID string
	log     *slog.Logger
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	lines   chan string // stdout lines; closed at EOF
	exited  chan struct{}
	waitErr error // set before exited is closed
	timeout time.Duration
}

// startSession starts command for shardID. Its stderr goes line by line to
// log; its stdout carries the protocol.
func startSession(command []string, env []string, shardID string, timeout time.Duration, log *slog.Logger) (*mlSession, error) {
	if len(command) == 0 {
		return nil, fmt.Errorf("%w: empty processor command", ErrProcessorFailed)
	}
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Env = env
	setChildAttrs(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("start processor for shard %q: %w", shardID, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start processor for shard %q: %w", shardID, err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("start processor for shard %q: %w", shardID, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: start %q for shard %q: %v", ErrProcessorFailed, strings.Join(command, " "), shardID, err)
	}
	s := &mlSession{shardID: shardID, log: log.With("pid", cmd.Process.Pid), cmd: cmd, stdin: stdin,
		lines: make(chan string, 16), exited: make(chan struct{}), timeout: timeout}
	var pipes sync.WaitGroup
	pipes.Add(2)
	go func() {
		defer pipes.Done()
		defer close(s.lines)
		r := bufio.NewReader(stdout)
		for {
			line, err := r.ReadString('\n')
			if len(line) > 0 {
				s.lines <- strings.TrimRight(line, "\r\n")
			}
			if err != nil {
				return
			}
		}
	}()
	go func() {
		defer pipes.Done()
		logStderr(stderr, s.log)
	}()
	go func() {
		pipes.Wait() // Wait closes the pipes: read them to the end first
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	return s, nil
}

// logStderr logs what a processor writes to stderr, a line per entry. A
// processor may write without newlines (amazon_kclpy's sample does): text
// that no newline follows within stderrIdle is logged as it is, so nothing
// waits in this buffer for long — a consumer killed with SIGKILL loses at most
// that much of its processors' output — and the pipe is always drained, so a
// processor never blocks on a full one.
func logStderr(r io.Reader, log *slog.Logger) {
	chunks := make(chan []byte)
	go func() {
		defer close(chunks)
		for {
			buf := make([]byte, 32*1024)
			n, err := r.Read(buf)
			if n > 0 {
				chunks <- buf[:n]
			}
			if err != nil {
				return
			}
		}
	}()
	emit := func(b []byte) {
		if len(b) > 0 {
			log.Info("Processor stderr", "line", string(b))
		}
	}
	var pending []byte
	idle := time.NewTimer(time.Hour)
	idle.Stop()
	defer idle.Stop()
	for {
		select {
		case c, ok := <-chunks:
			if !ok {
				emit(pending)
				return
			}
			pending = append(pending, c...)
			for i := bytes.IndexByte(pending, '\n'); i >= 0; i = bytes.IndexByte(pending, '\n') {
				emit(bytes.TrimRight(pending[:i], "\r"))
				pending = pending[i+1:]
			}
			if len(pending) >= maxStderrLine {
				emit(pending)
				pending = nil
			}
			if len(pending) > 0 {
				idle.Reset(stderrIdle)
			}
		case <-idle.C:
			emit(pending)
			pending = nil
		}
	}
}

const (
	stderrIdle    = 100 * time.Millisecond
	maxStderrLine = 64 * 1024
)

// kill stops the subprocess at once and waits for it, draining what it
// wrote last so the stdout reader can reach EOF. Safe from two goroutines.
func (s *mlSession) kill() {
	_ = s.cmd.Process.Kill()
	_ = s.stdin.Close()
	s.drainUntilExit(nil)
}

// drainUntilExit discards stdout lines until the subprocess has exited and
// its pipes are read to the end, or until timeout fires (nil: no limit).
func (s *mlSession) drainUntilExit(timeout <-chan time.Time) bool {
	lines := s.lines
	for {
		select {
		case _, ok := <-lines:
			if !ok {
				lines = nil // nil channel: wait for the exit only
			}
		case <-s.exited:
			return true
		case <-timeout:
			return false
		}
	}
}

// close ends the protocol the daemon's way: stdin closed (EOF tells the
// processor to exit), then up to grace for the process to exit before it is
// killed. Lines still on stdout are drained.
func (s *mlSession) close(grace time.Duration) {
	_ = s.stdin.Close()
	t := time.NewTimer(grace)
	defer t.Stop()
	if !s.drainUntilExit(t.C) {
		s.log.Warn("Processor did not exit after its stdin closed; killing it", "grace", grace)
		s.kill()
		return
	}
	if s.waitErr != nil {
		s.log.Warn("Processor exited with an error", "error", s.waitErr)
	}
}

// send writes one message line.
func (s *mlSession) send(msg any) error {
	b, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("encode message: %w", err)
	}
	if _, err := s.stdin.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("%w: write to processor of shard %q: %v", ErrProcessorFailed, s.shardID, err)
	}
	return nil
}

// checkpointFunc writes a checkpoint the processor asked for; nil means the
// action carries no checkpointer.
type checkpointFunc func(seq *string, sub *int64) error

// call sends msg for action and serves the processor's checkpoint requests
// until it answers with the status for action. It fails with
// ErrProcessorFailed when the processor exits, answers the status of another
// action or does not answer within the session's timeout, and with the
// context's error when lost ends first (the lease is gone: the caller kills
// the processor).
func (s *mlSession) call(lost context.Context, action string, msg any, cp checkpointFunc) error {
	if err := s.send(msg); err != nil {
		return err
	}
	var deadline <-chan time.Time
	if s.timeout > 0 {
		t := time.NewTimer(s.timeout)
		defer t.Stop()
		deadline = t.C
	}
	for {
		var line string
		var ok bool
		select {
		case line, ok = <-s.lines:
			if !ok {
				<-s.exited
				return fmt.Errorf("%w: processor of shard %q exited while handling %s (%v)", ErrProcessorFailed, s.shardID, action, exitStatus(s.waitErr))
			}
		case <-lost.Done():
			return fmt.Errorf("%s for shard %q: %w", action, s.shardID, lost.Err())
		case <-deadline:
			return fmt.Errorf("%w: processor of shard %q did not answer %s within %v", ErrProcessorFailed, s.shardID, action, s.timeout)
		}
		if strings.TrimSpace(line) == "" {
			continue // amazon_kclpy writes a blank line before and after each message
		}
		var m mlMessage
		if err := json.Unmarshal([]byte(line), &m); err != nil || (m.Action != actionStatus && m.Action != actionCheckpoint) {
			// As the daemon does: a line that is not a message (the
			// processor printing to stdout) is logged and skipped.
			s.log.Warn("Skipping a line from the processor that is not a protocol message", "waitingFor", action, "line", truncate(line, 200))
			continue
		}
		if m.Action == actionStatus {
			if m.ResponseFor != action {
				return fmt.Errorf("%w: processor of shard %q answered status for %q while %q was expected", ErrProcessorFailed, s.shardID, m.ResponseFor, action)
			}
			return nil
		}
		var req mlCheckpoint
		if err := json.Unmarshal([]byte(line), &req); err != nil {
			return fmt.Errorf("%w: processor of shard %q sent a malformed checkpoint request %q: %v", ErrProcessorFailed, s.shardID, truncate(line, 200), err)
		}
		var errName *string
		if cp == nil {
			errName = ptr(ErrNameInvalidState)
			s.log.Warn("Processor asked to checkpoint where no checkpointer is provided", "during", action)
		} else if err := cp(req.SequenceNumber, req.SubSequenceNumber); err != nil {
			errName = ptr(checkpointErrorName(err))
			s.log.Info("Checkpoint refused", "during", action, "sequenceNumber", deref(req.SequenceNumber), "error", err, "answer", *errName)
		}
		if err := s.send(mlCheckpoint{Action: actionCheckpoint, SequenceNumber: req.SequenceNumber, SubSequenceNumber: req.SubSequenceNumber, Error: errName}); err != nil {
			return err
		}
	}
}

// checkpointErrorName maps a checkpoint failure to the exception name the Java
// daemon would send.
func checkpointErrorName(err error) string {
	var apiErr smithy.APIError
	switch {
	case errors.Is(err, kcl.ErrLeaseLost):
		return ErrNameShutdown
	case errors.Is(err, kcl.ErrInvalidCheckpoint), errors.Is(err, errBadSequenceNumber):
		return ErrNameIllegalArgument
	case errors.Is(err, errNoCheckpointer):
		return ErrNameInvalidState
	case errors.As(err, &apiErr) && (apiErr.ErrorCode() == "ProvisionedThroughputExceededException" ||
		apiErr.ErrorCode() == "ThrottlingException" || apiErr.ErrorCode() == "RequestLimitExceeded"):
		return ErrNameThrottling
	}
	return ErrNameDependency
}

var (
	errBadSequenceNumber = errors.New("sequence number is not a decimal number")
	errNoCheckpointer    = errors.New("no checkpointer")
)

func exitStatus(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func ptr[T any](v T) *T { return &v }

func deref(s *string) string {
	if s == nil {
		return "<latest>"
	}
	return *s
}

// multiLangFactory creates one multiLangProcessor per shard lease.
type multiLangFactory struct {
	// ctx ends when the consumer must stop at once: a processor still
	// working on initialize or a shutdown action is then abandoned.
	ctx     context.Context
	command []string
	env     []string
	timeout time.Duration // 0: wait for the processor as long as it takes
	grace   time.Duration // for the processor to exit after its stdin closed
	metrics *Metrics
	log     *slog.Logger

	mu       sync.Mutex
	sessions map[*mlSession]struct{}
}

func (f *multiLangFactory) CreateProcessor() kcl.RecordProcessor {
	return &multiLangProcessor{f: f}
}

func (f *multiLangFactory) stopCtx() context.Context {
	if f.ctx == nil {
		return context.Background()
	}
	return f.ctx
}

func (f *multiLangFactory) track(s *mlSession, on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sessions == nil {
		f.sessions = map[*mlSession]struct{}{}
	}
	if on {
		f.sessions[s] = struct{}{}
	} else {
		delete(f.sessions, s)
	}
}

// killAll kills the subprocesses still running: after a hard stop the worker
// calls no Shutdown, and none may outlive the consumer.
func (f *multiLangFactory) killAll() {
	f.mu.Lock()
	ss := make([]*mlSession, 0, len(f.sessions))
	for s := range f.sessions {
		ss = append(ss, s)
	}
	f.sessions = nil
	f.mu.Unlock()
	for _, s := range ss {
		s.kill()
	}
}

// multiLangProcessor is the kcl.RecordProcessor of one shard lease: it runs the
// processor subprocess and translates the library's calls into the protocol.
// When the subprocess fails (exits, answers out of protocol, times out) it is
// killed and Failed returns the error (kcl.FailingRecordProcessor): the
// library logs it once, releases the lease without checkpointing anything
// more, and takes the shard again only after a backoff; its next owner — a
// fresh subprocess, here or on another worker — resumes after the last
// checkpoint the failed processor asked for and got acknowledged.
type multiLangProcessor struct {
	f        *multiLangFactory
	s        *mlSession
	shardID  string
	log      *slog.Logger
	shardEnd bool  // SHARD_END checkpoint written during shardEnded
	err      error // the subprocess failed: nothing more is sent
}

// Failed implements kcl.FailingRecordProcessor.
func (p *multiLangProcessor) Failed() error { return p.err }

// fail kills the subprocess and records err for Failed; the library logs it.
func (p *multiLangProcessor) fail(err error) {
	if p.s != nil {
		p.s.kill()
		p.f.track(p.s, false)
		p.s = nil
	}
	p.err = err
}

func (p *multiLangProcessor) Initialize(in *kcl.InitializationInput) {
	p.shardID = in.ShardID
	p.log = p.f.log.With("shardId", in.ShardID)
	s, err := startSession(p.f.command, p.f.env, in.ShardID, p.f.timeout, p.log)
	if err != nil {
		p.fail(err)
		return
	}
	p.s = s
	p.f.track(s, true)
	msg := mlInitialize{Action: actionInitialize, ShardID: in.ShardID}
	if seq := in.ExtendedSequenceNumber.SequenceNumber; seq != "" {
		msg.SequenceNumber = &seq
		msg.SubSequenceNumber = ptr(in.ExtendedSequenceNumber.SubSequenceNumber)
	}
	if err := s.call(p.f.stopCtx(), actionInitialize, msg, nil); err != nil {
		p.fail(err)
		return
	}
	p.log.Info("Processor started", "command", p.f.command[0], "checkpoint", in.ExtendedSequenceNumber.SequenceNumber)
}

func (p *multiLangProcessor) ProcessRecords(in *kcl.ProcessRecordsInput) {
	if p.err != nil {
		return
	}
	if p.s == nil { // killed when its lease was lost: no batch may reach it
		p.fail(fmt.Errorf("%w: batch for shard %q after its processor was stopped", ErrProcessorFailed, p.shardID))
		return
	}
	msg := mlProcessRecords{Action: actionProcessRecords, MillisBehindLatest: in.MillisBehindLatest, Records: make([]mlRecord, len(in.Records))}
	for i, r := range in.Records {
		msg.Records[i] = mlRecord{Action: "record", Data: base64.StdEncoding.EncodeToString(r.Data), PartitionKey: r.PartitionKey,
			SequenceNumber: r.SequenceNumber, SubSequenceNumber: r.SubSequenceNumber}
		if !r.ApproximateArrivalTimestamp.IsZero() {
			msg.Records[i].ApproximateArrivalTimestamp = ptr(r.ApproximateArrivalTimestamp.UnixMilli())
		}
	}
	lost := in.Context
	if lost == nil {
		lost = context.Background()
	}
	err := p.s.call(lost, actionProcessRecords, msg, p.checkpointer(in.Checkpointer, false))
	switch {
	case err == nil:
		p.f.metrics.processed(len(in.Records))
	case lost.Err() != nil:
		// The lease is another worker's now: this processor must stop at once.
		p.log.Info("Lease lost while the processor handled a batch; killing it", "error", err)
		p.s.kill()
		p.f.track(p.s, false)
		p.s = nil
	default:
		p.fail(err)
	}
}

func (p *multiLangProcessor) Shutdown(in *kcl.ShutdownInput) {
	if p.s == nil {
		return // failed, or killed after losing the lease in ProcessRecords
	}
	s := p.s
	ctx := p.f.stopCtx()
	var err error
	switch in.ShutdownReason {
	case kcl.ZOMBIE:
		err = s.call(ctx, actionLeaseLost, mlMessage{Action: actionLeaseLost}, nil)
	case kcl.TERMINATE:
		err = s.call(ctx, actionShardEnded, mlMessage{Action: actionShardEnded}, p.checkpointer(in.Checkpointer, true))
		if err == nil && !p.shardEnd {
			// As the KCL: a shard is finished only by the processor's own
			// SHARD_END checkpoint; its children wait until one succeeds.
			err = fmt.Errorf("%w: processor of shard %q answered shardEnded without checkpointing at SHARD_END", ErrProcessorFailed, p.shardID)
		}
	case kcl.REQUESTED:
		err = s.call(ctx, actionShutdownRequested, mlMessage{Action: actionShutdownRequested}, p.checkpointer(in.Checkpointer, false))
	}
	if err != nil {
		p.fail(err)
		return
	}
	s.close(p.f.grace)
	p.f.track(s, false)
	p.log.Info("Processor stopped", "reason", in.ShutdownReason.String())
}

// checkpointer turns a checkpoint request into a write through cp: no
// sequence number means the last delivered record (SHARD_END in shardEnded);
// a sequence number alone covers all of that record; with a sub-sequence
// number, up to that user record of an aggregated record.
func (p *multiLangProcessor) checkpointer(cp kcl.Checkpointer, shardEnded bool) checkpointFunc {
	if cp == nil {
		return func(*string, *int64) error { return errNoCheckpointer }
	}
	return func(seq *string, sub *int64) error {
		start := time.Now()
		var err error
		switch {
		case seq == nil:
			err = cp.Checkpoint(nil)
			if err == nil && shardEnded {
				p.shardEnd = true
			}
		case !isDecimal(*seq):
			err = fmt.Errorf("checkpoint at %q: %w", *seq, errBadSequenceNumber)
		case sub == nil:
			err = cp.Checkpoint(seq)
		default:
			err = cp.CheckpointRecord(kcl.Record{SequenceNumber: *seq, SubSequenceNumber: *sub})
		}
		if err == nil {
			p.log.Debug("Checkpointed for the processor", "sequenceNumber", deref(seq), "took", time.Since(start))
		}
		return err
	}
}

func isDecimal(s string) bool {
	_, ok := new(big.Int).SetString(s, 10)
	return ok && !strings.HasPrefix(s, "-") && !strings.HasPrefix(s, "+")
}
