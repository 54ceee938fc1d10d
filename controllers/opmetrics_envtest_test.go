package controllers

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	. "github.com/onsi/gomega"

	"github.com/kdp-io/streamprocessor-operator/internal/dashboard"
)

// TestOperatorMetricsReachCloudWatch: against moto's CloudWatch, with the
// publisher on (--cloudwatch-metrics), a Ready StreamProcessor's OpenShards
// is listed and readable in StreamProcessor/Operator with its Namespace and
// Name, and its dashboard plots the operator's widgets.
func TestOperatorMetricsReachCloudWatch(t *testing.T) {
	requireSuite(t)
	g := NewWithT(t)
	var pub *MetricsPublisher
	startOperator(t, func(r *StreamProcessorReconciler) {
		pub = NewMetricsPublisher(time.Second, PutMetricsOf(r.AWS))
		r.Publisher = pub
	})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = pub.Start(ctx) }()

	sp := sample(newNamespace(t), "opmetrics")
	g.Expect(suite.k8s.Create(context.Background(), sp)).To(Succeed())
	got := waitReady(t, sp, 60*time.Second)
	dims := []cwtypes.Dimension{
		{Name: aws.String("Namespace"), Value: aws.String(sp.Namespace)},
		{Name: aws.String("Name"), Value: aws.String(sp.Name)},
	}
	g.Eventually(func(g Gomega) {
		listed, err := suite.cw.ListMetrics(context.Background(), &cloudwatch.ListMetricsInput{
			Namespace: aws.String(dashboard.OperatorNamespace), MetricName: aws.String(dashboard.MetricOpenShards),
			Dimensions: []cwtypes.DimensionFilter{{Name: aws.String("Name"), Value: aws.String(sp.Name)}},
		})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(listed.Metrics).NotTo(BeEmpty())
		now := time.Now()
		out, err := suite.cw.GetMetricData(context.Background(), &cloudwatch.GetMetricDataInput{
			StartTime: aws.Time(now.Add(-10 * time.Minute)), EndTime: aws.Time(now.Add(time.Minute)),
			MetricDataQueries: []cwtypes.MetricDataQuery{{
				Id: aws.String("open"),
				MetricStat: &cwtypes.MetricStat{
					Metric: &cwtypes.Metric{Namespace: aws.String(dashboard.OperatorNamespace), MetricName: aws.String(dashboard.MetricOpenShards), Dimensions: dims},
					Period: aws.Int32(60), Stat: aws.String("Maximum"),
				},
			}},
		})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(out.MetricDataResults).To(HaveLen(1))
		g.Expect(out.MetricDataResults[0].Values).To(ContainElement(float64(got.Status.Stream.OpenShards)))
	}, 30*time.Second, 500*time.Millisecond).Should(Succeed())
	g.Expect(got.Status.Stream.OpenShards).To(BeNumerically(">", 0))

	g.Eventually(func(g Gomega) {
		body, found := readDashboard(g, defaultNames(sp.Namespace, sp.Name).Dashboard)
		g.Expect(found).To(BeTrue())
		g.Expect(body).To(ContainSubstring(dashboard.OperatorNamespace))
		g.Expect(dashboard.Equal(body, currentDashboardBody(get(g, sp), suite.cw.Options().Region, true))).To(BeTrue())
	}, 30*time.Second, 500*time.Millisecond).Should(Succeed())
	deleteAndWait(t, sp)
}
