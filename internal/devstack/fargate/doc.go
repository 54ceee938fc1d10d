// Package fargate runs, on one machine, what ECS on Fargate would run for the
// services in the ECS emulator (moto), which itself launches nothing: a
// Supervisor keeps desiredCount local processes per service, and a Proxy in
// front of the emulator makes what ECS clients read — DescribeServices
// counts, deployments and events, ListTasks, DescribeTasks — come from those
// processes, so that the operator sees honest counts without knowing it runs
// locally.
//
// A task is a process of the binary its container maps to (Options.Runners),
// started with exactly its container's environment from the task definition
// plus Options.TaskEnv (endpoints, credentials, region), its container secrets
// read through Options.Secrets at start (a secret that cannot be read stops
// the task as ECS does: TaskFailedToStart, ResourceInitializationError), PORT or HTTP_ADDR
// (its own port), WORKER_ID (the task id) and the runner's ExtraEnv. Its
// stdout and stderr go to <LogDir>/<service>/<task id>.log; that directory is
// its working directory. Each task listens on an address of its own,
// 127.0.<x>.<y>, as a Fargate task has its own IP (see
// Options.SharedAddress). Its lifecycle follows ECS: PROVISIONING (for
// StartDelay, standing in for Fargate's start time), PENDING (process
// started), RUNNING (health path answers 2xx), STOPPING (drained from the
// load balancer, SIGTERM, SIGKILL after the container's stopTimeout) and
// STOPPED (kept StoppedRetention for DescribeTasks).
//
// Wiring, in a dev stack:
//
//	lb, _ := alb.New(alb.Options{ELB: elbv2.NewFromConfig(cfg)}) // 127.0.0.1:8080
//	sup, _ := fargate.New(fargate.Options{ECS: ecs.NewFromConfig(cfg), Clusters: []string{"local"},
//		Runners: runners, TaskEnv: env, LogDir: dir, Balancer: lb, CloudWatch: cw})
//	proxy, _ := fargate.NewProxy(os.Getenv("AWS_ENDPOINT_URL_ECS"), sup)
//	go http.Serve(ln, proxy) // the operator's AWS_ENDPOINT_URL_ECS points here
//	go lb.Run(ctx)
//	go sup.Run(ctx) // returns after every task has stopped
package fargate
