// Package envflag binds command-line flags whose defaults come from
// environment variables, as the workloads are configured on ECS: a task
// definition sets the environment, a developer may pass flags. A flag given
// wins over its variable, which wins over the built-in default; a variable
// that does not parse is an error naming it, never silently the default.
package envflag

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Set is a flag set whose flags read their defaults from the environment.
type Set struct {
	fs     *flag.FlagSet
	getenv func(string) string
	errs   []error
}

// New returns an empty Set named name that reads variables with getenv and
// writes usage and flag errors to out.
func New(name string, getenv func(string) string, out io.Writer) *Set {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	return &Set{fs: fs, getenv: getenv}
}

// String binds *p to flag name and variable env; *p holds the default.
func (s *Set) String(p *string, name, env, help string) {
	if v := s.getenv(env); v != "" {
		*p = v
	}
	s.fs.StringVar(p, name, *p, usage(help, env))
}

// Int binds *p to flag name and variable env; *p holds the default.
func (s *Set) Int(p *int, name, env, help string) {
	s.fs.IntVar(p, name, envValue(s, env, *p, strconv.Atoi), usage(help, env))
}

// Int64 binds *p to flag name and variable env; *p holds the default.
func (s *Set) Int64(p *int64, name, env, help string) {
	parse := func(v string) (int64, error) { return strconv.ParseInt(v, 10, 64) }
	s.fs.Int64Var(p, name, envValue(s, env, *p, parse), usage(help, env))
}

// Duration binds *p to flag name and variable env (a Go duration such as
// 30s); *p holds the default.
func (s *Set) Duration(p *time.Duration, name, env, help string) {
	s.fs.DurationVar(p, name, envValue(s, env, *p, time.ParseDuration), usage(help, env))
}

// Bool binds *p to flag name and variable env (true, false, 1, 0, …); *p
// holds the default.
func (s *Set) Bool(p *bool, name, env, help string) {
	s.fs.BoolVar(p, name, envValue(s, env, *p, strconv.ParseBool), usage(help, env))
}

// Parse reports every variable that did not parse, then parses args.
func (s *Set) Parse(args []string) error {
	if len(s.errs) > 0 {
		return errors.Join(s.errs...)
	}
	if err := s.fs.Parse(args); err != nil {
		return fmt.Errorf("parse flags: %w", err)
	}
	return nil
}

// envValue is env's value read by parse, or def when env is unset; a value
// that does not parse is remembered as an error and def kept.
func envValue[T any](s *Set, env string, def T, parse func(string) (T, error)) T {
	v := s.getenv(env)
	if v == "" {
		return def
	}
	x, err := parse(v)
	if err != nil {
		s.errs = append(s.errs, fmt.Errorf("%s=%q: %w", env, v, err))
		return def
	}
	return x
}

func usage(help, env string) string { return help + " (env " + env + ")" }
