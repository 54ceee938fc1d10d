package fargate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// targetPrefix starts the X-Amz-Target header of every ECS call.
const targetPrefix = "AmazonEC2ContainerServiceV20141113."

// Proxy is the ECS endpoint clients use on the local stack. It passes every
// call through to the ECS emulator, except that, for the supervised clusters,
// the services in DescribeServices, CreateService, UpdateService and
// DeleteService answers carry the supervisor's live task counts, deployments
// and events, and ListTasks and DescribeTasks are answered from the local
// tasks. Clients cannot tell it from ECS.
type Proxy struct {
	target *url.URL
	sup    *Supervisor
	client *http.Client
}

// NewProxy returns a proxy in front of the ECS emulator at endpoint (e.g.
// http://127.0.0.1:5005) that reports sup's tasks.
func NewProxy(endpoint string, sup *Supervisor) (*Proxy, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("fargate: ECS endpoint %q is not an absolute URL", endpoint)
	}
	return &Proxy{target: u, sup: sup, client: &http.Client{Timeout: 60 * time.Second}}, nil
}

// ServeHTTP answers one ECS API call (JSON 1.1).
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", "read request: "+err.Error())
		return
	}
	op, _ := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	switch op {
	case "ListTasks", "DescribeTasks":
		var in struct {
			Cluster string `json:"cluster"`
		}
		if json.Unmarshal(body, &in) == nil && p.sup.manages(in.Cluster) {
			if op == "ListTasks" {
				p.listTasks(w, body)
			} else {
				p.describeTasks(w, body)
			}
			return
		}
	case "DescribeServices":
		p.forward(w, r, body, p.rewriteServices)
		return
	case "CreateService", "UpdateService", "DeleteService":
		// Their answers carry the service too: moto's counts there are as
		// made up as in DescribeServices.
		p.forward(w, r, body, p.rewriteServices)
		p.sup.wake()
		return
	}
	p.forward(w, r, body, nil)
}

// forward sends the call to the emulator and relays its answer, passed
// through rewrite when the call succeeded.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, body []byte, rewrite func([]byte) ([]byte, error)) {
	u := *p.target
	u.Path = r.URL.Path
	u.RawQuery = r.URL.RawQuery
	req, err := http.NewRequestWithContext(r.Context(), r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		writeError(w, http.StatusInternalServerError, "ServerException", err.Error())
		return
	}
	for k, vs := range r.Header {
		if k == "Accept-Encoding" || k == "Content-Length" || k == "Connection" {
			continue // the answer may need rewriting: take it uncompressed
		}
		req.Header[k] = vs
	}
	resp, err := p.client.Do(req)
	if err != nil {
		writeError(w, http.StatusBadGateway, "ServerException", "local Fargate proxy: ECS emulator unreachable: "+err.Error())
		return
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		writeError(w, http.StatusBadGateway, "ServerException", "local Fargate proxy: read ECS emulator answer: "+err.Error())
		return
	}
	if rewrite != nil && resp.StatusCode == http.StatusOK {
		if rw, err := rewrite(out); err == nil {
			out = rw
		} else {
			p.sup.opts.Logger.Error(err, "Cannot rewrite ECS answer; passing it on unchanged")
		}
	}
	for k, vs := range resp.Header {
		if k == "Content-Length" || k == "Content-Encoding" || k == "Transfer-Encoding" {
			continue
		}
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(out)
}

// rewriteServices puts live counts, deployments and events into an answer
// carrying services (DescribeServices) or one service (CreateService,
// UpdateService, DeleteService), keeping every other field as the emulator
// wrote it.
func (p *Proxy) rewriteServices(body []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("decode ECS answer: %w", err)
	}
	services, _ := doc["services"].([]any)
	if one, ok := doc["service"]; ok {
		services = append(services, one)
	}
	for _, item := range services {
		if svc, ok := item.(map[string]any); ok {
			p.rewriteService(svc)
		}
	}
	return json.Marshal(doc)
}

func (p *Proxy) rewriteService(svc map[string]any) {
	cluster, _ := svc["clusterArn"].(string)
	name, _ := svc["serviceName"].(string)
	if !p.sup.manages(cluster) {
		return
	}
	taskDef, _ := svc["taskDefinition"].(string)
	desired := 0
	if n, ok := svc["desiredCount"].(json.Number); ok {
		d, _ := n.Int64()
		desired = int(d)
	}
	view, known := p.sup.serviceView(cluster, name, taskDef, desired)
	svc["runningCount"], svc["pendingCount"] = view.Running, view.Pending
	var template map[string]any
	if deps, _ := svc["deployments"].([]any); len(deps) > 0 {
		template, _ = deps[0].(map[string]any)
	}
	if !known {
		// Not read yet: no task runs, whatever the emulator says.
		if template != nil {
			template["runningCount"], template["pendingCount"] = 0, 0
		}
		return
	}
	deps := make([]any, 0, len(view.Deployments))
	for _, d := range view.Deployments {
		deps = append(deps, deploymentJSON(template, d, len(view.Deployments)))
	}
	svc["deployments"] = deps
	events := make([]any, 0, len(view.Events))
	for _, e := range view.Events {
		events = append(events, map[string]any{"id": e.ID, "createdAt": epoch(e.CreatedAt), "message": e.Message})
	}
	if theirs, _ := svc["events"].([]any); len(theirs) > 0 {
		events = append(events, theirs...)
	}
	svc["events"] = events
}

func deploymentJSON(template map[string]any, d deploymentView, n int) map[string]any {
	out := map[string]any{}
	for k, v := range template {
		out[k] = v
	}
	out["id"], out["taskDefinition"] = d.ID, d.TaskDefinition
	out["desiredCount"], out["runningCount"], out["pendingCount"] = d.Desired, d.Running, d.Pending
	out["failedTasks"] = d.Failed
	out["createdAt"], out["updatedAt"] = epoch(d.CreatedAt), epoch(d.UpdatedAt)
	out["status"], out["rolloutState"] = "ACTIVE", "COMPLETED"
	out["rolloutStateReason"] = "ECS deployment " + d.ID + " completed."
	if d.Primary {
		out["status"] = "PRIMARY"
		if n > 1 || d.Running != d.Desired {
			out["rolloutState"] = "IN_PROGRESS"
			out["rolloutStateReason"] = "ECS deployment " + d.ID + " in progress."
		}
	}
	return out
}

// epoch is an AWS JSON timestamp: seconds since 1970 with milliseconds.
func epoch(t time.Time) json.Number {
	return json.Number(strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64))
}

func (p *Proxy) listTasks(w http.ResponseWriter, body []byte) {
	var in struct {
		Cluster       string `json:"cluster"`
		ServiceName   string `json:"serviceName"`
		Family        string `json:"family"`
		DesiredStatus string `json:"desiredStatus"`
		LaunchType    string `json:"launchType"`
		StartedBy     string `json:"startedBy"`
		MaxResults    int    `json:"maxResults"`
		NextToken     string `json:"nextToken"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		writeError(w, http.StatusBadRequest, "InvalidParameterException", "ListTasks: "+err.Error())
		return
	}
	if in.DesiredStatus == "" {
		in.DesiredStatus = StatusRunning
	}
	svcName := in.ServiceName
	if i := strings.LastIndex(svcName, "/"); i >= 0 {
		svcName = svcName[i+1:]
	}
	cluster := clusterName(in.Cluster)
	var arns []string
	for _, t := range p.sup.Tasks() {
		family := t.TaskDefinitionARN[strings.LastIndex(t.TaskDefinitionARN, "/")+1:]
		family, _, _ = strings.Cut(family, ":")
		switch {
		case t.Cluster != cluster, svcName != "" && t.Service != svcName, in.Family != "" && family != in.Family,
			t.DesiredStatus != in.DesiredStatus, in.LaunchType != "" && in.LaunchType != "FARGATE", in.StartedBy != "":
			continue
		}
		arns = append(arns, t.ARN)
	}
	start, _ := strconv.Atoi(in.NextToken)
	start = min(max(start, 0), len(arns))
	end := len(arns)
	if in.MaxResults > 0 {
		end = min(start+in.MaxResults, end)
	}
	out := map[string]any{"taskArns": slices.Clip(arns[start:end])}
	if end < len(arns) {
		out["nextToken"] = strconv.Itoa(end)
	}
	writeJSON(w, out)
}

func (p *Proxy) describeTasks(w http.ResponseWriter, body []byte) {
	var in struct {
		Cluster string   `json:"cluster"`
		Tasks   []string `json:"tasks"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		writeError(w, http.StatusBadRequest, "InvalidParameterException", "DescribeTasks: "+err.Error())
		return
	}
	if len(in.Tasks) == 0 || len(in.Tasks) > 100 {
		writeError(w, http.StatusBadRequest, "InvalidParameterException", "Tasks must name between 1 and 100 tasks.")
		return
	}
	cluster := clusterName(in.Cluster)
	byID := map[string]TaskView{}
	for _, t := range p.sup.Tasks() {
		if t.Cluster == cluster {
			byID[t.ID] = t
		}
	}
	tasks, failures := []any{}, []any{}
	for _, ref := range in.Tasks {
		t, ok := byID[ref[strings.LastIndex(ref, "/")+1:]]
		if !ok {
			failures = append(failures, map[string]any{"arn": ref, "reason": "MISSING"})
			continue
		}
		tasks = append(tasks, taskJSON(t))
	}
	writeJSON(w, map[string]any{"tasks": tasks, "failures": failures})
}

// taskJSON renders a task as ECS's DescribeTasks does.
func taskJSON(t TaskView) map[string]any {
	clusterARN := t.ARN[:strings.Index(t.ARN, ":task/")] + ":cluster/" + t.Cluster
	container := map[string]any{
		"containerArn": strings.Replace(t.ARN, ":task/", ":container/", 1) + "/" + t.Container,
		"taskArn":      t.ARN, "name": t.Container, "image": t.Image,
		"lastStatus": t.LastStatus, "healthStatus": "UNKNOWN",
		"networkInterfaces": []any{map[string]any{"attachmentId": t.ID, "privateIpv4Address": t.Address}},
	}
	if t.PID != 0 {
		container["runtimeId"] = strconv.Itoa(t.PID)
	}
	if t.ExitCode != nil {
		container["exitCode"] = *t.ExitCode
	}
	if t.ContainerReason != "" {
		container["reason"] = t.ContainerReason
	}
	out := map[string]any{
		"taskArn": t.ARN, "clusterArn": clusterARN, "taskDefinitionArn": t.TaskDefinitionARN,
		"lastStatus": t.LastStatus, "desiredStatus": t.DesiredStatus,
		"launchType": "FARGATE", "platformVersion": "1.4.0", "platformFamily": "Linux",
		"cpu": strconv.Itoa(t.CPU), "memory": strconv.Itoa(t.MemoryMiB),
		"group": "service:" + t.Service, "connectivity": "CONNECTED", "healthStatus": "UNKNOWN",
		"createdAt": epoch(t.CreatedAt), "containers": []any{container}, "tags": []any{},
		"attachments": []any{map[string]any{
			"id": t.ID, "type": "ElasticNetworkInterface", "status": attachmentStatus(t.LastStatus),
			"details": []any{map[string]any{"name": "privateIPv4Address", "value": t.Address}},
		}},
	}
	for k, v := range map[string]time.Time{
		"pullStartedAt": t.PullStartedAt, "startedAt": t.StartedAt, "stoppingAt": t.StoppingAt,
		"stoppedAt": t.StoppedAt, "executionStoppedAt": t.StoppedAt,
	} {
		if !v.IsZero() {
			out[k] = epoch(v)
		}
	}
	if t.StoppedReason != "" {
		out["stoppedReason"], out["stopCode"] = t.StoppedReason, t.StopCode
	}
	return out
}

func attachmentStatus(lastStatus string) string {
	switch lastStatus {
	case StatusProvisioning:
		return "PRECREATED"
	case StatusStopped:
		return "DELETED"
	}
	return "ATTACHED"
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "ServerException", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}

// writeError answers an AWS JSON error that the SDK maps to its code.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	b, _ := json.Marshal(map[string]string{"__type": code, "message": msg})
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
