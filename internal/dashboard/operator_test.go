package dashboard

import (
	"slices"
	"strings"
	"testing"
)

// TestOperatorWidgetsFollowTheFlag: with the operator's metrics published the
// dashboard plots every one of them for this object and the text points to
// them; without, it plots none and the text says where they are.
func TestOperatorWidgetsFollowTheFlag(t *testing.T) {
	on := sample
	on.OperatorMetrics = true
	var plotted []string
	for _, m := range metricsOf(t, JSON(on)) {
		if m.namespace == OperatorNamespace {
			if m.dims["Namespace"] != sample.Namespace || m.dims["Name"] != sample.Name {
				t.Errorf("widget %q plots %s of %v, not of this object", m.widget, m.name, m.dims)
			}
			plotted = append(plotted, m.name)
		}
	}
	if !slices.Equal(slices.Sorted(slices.Values(plotted)), slices.Sorted(slices.Values(OperatorMetrics))) {
		t.Errorf("plotted %v of the operator's, want %v", plotted, OperatorMetrics)
	}
	if text := Build(on).Widgets[0].Properties.Markdown; !strings.Contains(text, OperatorNamespace) {
		t.Errorf("text does not point to the operator's widgets: %s", text)
	}
	for _, m := range metricsOf(t, JSON(sample)) {
		if m.namespace == OperatorNamespace {
			t.Errorf("widget %q plots %s without the operator publishing it", m.widget, m.name)
		}
	}
	if text := Build(sample).Widgets[0].Properties.Markdown; !strings.Contains(text, "`/metrics`") || !strings.Contains(text, "--cloudwatch-metrics") {
		t.Errorf("text does not say where the operator's figures are: %s", text)
	}
	if Equal(JSON(on), JSON(sample)) {
		t.Error("publishing the operator's metrics left the body unchanged")
	}
}
