// Command taskserver is the workload of the fargate and alb tests: an HTTP
// server that stands in for a task.
//
//	GET /healthcheck, /healthz  200 "ok"
//	GET /whoami                 its WORKER_ID
//	GET /env                    its environment, one KEY=VALUE per line
//	GET /sleep?d=<duration>     its WORKER_ID after sleeping d
//
// It listens on HTTP_ADDR, else on :PORT. On SIGTERM it prints
// "taskserver: SIGTERM received" and exits 0, unless IGNORE_SIGTERM=1: then
// it prints "taskserver: SIGTERM ignored" and runs on until killed. BUSY=1
// makes it spin one CPU. EXIT_CODE=<n> makes it exit with n right after it
// starts, without listening (a crash loop).
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if code := os.Getenv("EXIT_CODE"); code != "" {
		n, _ := strconv.Atoi(code)
		fmt.Println("taskserver: exiting with", n)
		os.Exit(n)
	}
	addr := os.Getenv("HTTP_ADDR")
	if addr == "" {
		addr = ":" + os.Getenv("PORT")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Println("taskserver:", err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") }
	mux.HandleFunc("GET /healthcheck", ok)
	mux.HandleFunc("GET /healthz", ok)
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, os.Getenv("WORKER_ID")) })
	mux.HandleFunc("GET /env", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, strings.Join(os.Environ(), "\n"))
	})
	mux.HandleFunc("GET /sleep", func(w http.ResponseWriter, r *http.Request) {
		d, _ := time.ParseDuration(r.URL.Query().Get("d"))
		time.Sleep(d)
		fmt.Fprint(w, os.Getenv("WORKER_ID"))
	})
	go func() { _ = http.Serve(ln, mux) }()
	if os.Getenv("BUSY") == "1" {
		go func() {
			for x := 0; ; x++ {
				_ = x * x
			}
		}()
	}
	fmt.Println("taskserver: listening on", ln.Addr())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	for range sig {
		if os.Getenv("IGNORE_SIGTERM") == "1" {
			fmt.Println("taskserver: SIGTERM ignored")
			continue
		}
		fmt.Println("taskserver: SIGTERM received")
		os.Exit(0)
	}
}
