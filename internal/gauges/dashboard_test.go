package gauges

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// dashboardPath is the Grafana dashboard shipped in config/.
const dashboardPath = "../../config/grafana/streamprocessor.json"

type grafanaPanel struct {
	Title   string `json:"title"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []grafanaPanel `json:"panels"` // a row's panels
}

type grafanaDashboard struct {
	Panels     []grafanaPanel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

// dashboardQueries returns every PromQL query of the dashboard, keyed by
// where it is ("panel Shards/A", "variable namespace"). A panel without a
// query is an error: it would show nothing.
func dashboardQueries(data []byte) (map[string]string, error) {
	var d grafanaDashboard
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("parse dashboard: %w", err)
	}
	out := map[string]string{}
	var walk func(ps []grafanaPanel) error
	walk = func(ps []grafanaPanel) error {
		for _, p := range ps {
			if len(p.Panels) > 0 {
				if err := walk(p.Panels); err != nil {
					return err
				}
				continue
			}
			if len(p.Targets) == 0 {
				return fmt.Errorf("panel %q has no query", p.Title)
			}
			for i, t := range p.Targets {
				if strings.TrimSpace(t.Expr) == "" {
					return fmt.Errorf("panel %q: query %d is empty", p.Title, i)
				}
				out[fmt.Sprintf("panel %q/%d", p.Title, i)] = t.Expr
			}
		}
		return nil
	}
	if err := walk(d.Panels); err != nil {
		return nil, err
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			var s string // older dashboards keep the query as a plain string
			if err := json.Unmarshal(v.Query, &s); err != nil {
				return nil, fmt.Errorf("variable %q: query is neither an object nor a string", v.Name)
			}
			q.Query = s
		}
		out["variable "+v.Name] = q.Query
	}
	return out, nil
}

var (
	labelValues  = regexp.MustCompile(`label_values\(\s*([^,]+?)\s*,\s*[a-zA-Z_]\w*\s*\)`)
	grafanaVar   = regexp.MustCompile(`\$\{?\w+\}?`)
	stringLit    = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	braces       = regexp.MustCompile(`\{[^{}]*\}`)
	ranges       = regexp.MustCompile(`\[[^\]]*\]`)
	labelLists   = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	identifier   = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?`)
	promKeywords = []string{"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset", "inf", "nan"}
	// promFunctions are the PromQL functions and aggregations a query may
	// call; anything else followed by "(" is refused, so that a typo is not
	// taken for a function.
	promFunctions = []string{
		"abs", "absent", "avg", "avg_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min", "count",
		"count_over_time", "delta", "deriv", "floor", "group", "increase", "irate", "label_replace", "last_over_time",
		"max", "max_over_time", "min", "min_over_time", "quantile", "rate", "round", "scalar", "sort", "sort_desc",
		"sum", "sum_over_time", "time", "timestamp", "topk", "bottomk", "vector",
	}
)

// metricNames returns the metric names a PromQL query selects: what is left
// of it once strings, label matchers, ranges, grouping clauses, functions and
// keywords are taken out. It errs on an unknown function.
func metricNames(query string) ([]string, error) {
	q := labelValues.ReplaceAllString(query, "$1")
	q = grafanaVar.ReplaceAllString(q, "")
	q = stringLit.ReplaceAllString(q, `""`)
	q = braces.ReplaceAllString(q, " ")
	q = ranges.ReplaceAllString(q, " ")
	q = labelLists.ReplaceAllString(q, " ")
	var names []string
	for _, m := range identifier.FindAllStringSubmatch(q, -1) {
		word := strings.TrimRight(m[0], " \t\n(")
		switch {
		case m[1] != "":
			if !slices.Contains(promFunctions, word) {
				return nil, fmt.Errorf("unknown function %q in %q", word, query)
			}
		case slices.Contains(promKeywords, strings.ToLower(word)):
		default:
			if !slices.Contains(names, word) {
				names = append(names, word)
			}
		}
	}
	return names, nil
}

func TestMetricNames(t *testing.T) {
	for _, tc := range []struct {
		query string
		want  []string
		err   bool
	}{
		{`streamprocessor_ready{namespace=~"$namespace",name=~"$name"}`, []string{"streamprocessor_ready"}, false},
		{`clamp_min(a_b{x="y"} - time(), 0)`, []string{"a_b"}, false},
		{`sum by (namespace, name) (rate(foo_total{job="x"}[$__rate_interval])) / on(name) group_left bar`, []string{"foo_total", "bar"}, false},
		{`label_values(streamprocessor_info{namespace=~"$namespace"}, name)`, []string{"streamprocessor_info"}, false},
		{`max(x) or vector(0)`, []string{"x"}, false},
		{`summ(x)`, nil, true},
	} {
		got, err := metricNames(tc.query)
		if (err != nil) != tc.err || !slices.Equal(got, tc.want) {
			t.Errorf("metricNames(%q) = %v, %v; want %v (error %v)", tc.query, got, err, tc.want, tc.err)
		}
	}
}

// dashboardMetrics returns every metric name the dashboard queries, failing
// t on a query that names none or names one the Collector does not export.
func dashboardMetrics(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	queries, err := dashboardQueries(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(queries) == 0 {
		t.Fatal("dashboard has no queries")
	}
	exported := Names()
	var all []string
	for where, q := range queries {
		names, err := metricNames(q)
		if err != nil {
			t.Errorf("%s: %v", where, err)
			continue
		}
		if len(names) == 0 {
			t.Errorf("%s: %q selects no metric", where, q)
		}
		for _, n := range names {
			if !slices.Contains(exported, n) {
				t.Errorf("%s: %q queries %s, which the gauges Collector does not export", where, q, n)
			}
			if !slices.Contains(all, n) {
				all = append(all, n)
			}
		}
	}
	slices.Sort(all)
	return all
}

// TestDashboardQueriesExportedMetrics keeps config/grafana in step with the
// Collector without a control plane; TestGaugesFollowObjectsInTheCache also
// finds every one of them in a real scrape.
func TestDashboardQueriesExportedMetrics(t *testing.T) {
	if got := dashboardMetrics(t); len(got) < 10 {
		t.Errorf("dashboard queries only %v", got)
	}
}

// TestDashboardCheckCatchesDrift: a query of a metric the Collector does not
// export (a rename on one side only) is found.
func TestDashboardCheckCatchesDrift(t *testing.T) {
	data, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	drifted := strings.Replace(string(data), "streamprocessor_shards_open", "streamprocessor_open_shards", 1)
	queries, err := dashboardQueries([]byte(drifted))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, q := range queries {
		names, _ := metricNames(q)
		if slices.Contains(names, "streamprocessor_open_shards") && !slices.Contains(Names(), "streamprocessor_open_shards") {
			found = true
		}
	}
	if !found {
		t.Error("a renamed metric in the dashboard went unnoticed")
	}
}
