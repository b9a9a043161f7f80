package serve

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the server's Prometheus metrics, in a registry of its own.
type metrics struct {
	reg         *prometheus.Registry
	received    *prometheus.CounterVec // source
	rejected    *prometheus.CounterVec // source, reason
	processed   *prometheus.CounterVec // source
	detections  *prometheus.CounterVec // level
	latency     prometheus.Histogram
	storeErrors prometheus.Counter
	redelivered prometheus.Counter
	requests    *prometheus.CounterVec // route, code
}

func newMetrics(pending func(context.Context) (float64, float64, bool)) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_events_received_total", Help: "Events accepted by ingest and queued, by source.",
		}, []string{"source"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_events_rejected_total", Help: "Events or messages refused by ingest, by source and reason.",
		}, []string{"source", "reason"}),
		processed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_events_processed_total", Help: "Events run through detection and stored by this process's workers, by source.",
		}, []string{"source"}),
		detections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_detections_total", Help: "Detections stored by this process's workers, by level.",
		}, []string{"level"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "vigil_detection_latency_seconds",
			Help:    "Time from ingest receiving a batch's first event to its detections being stored.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}),
		storeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_store_errors_total", Help: "Batches whose detections could not be stored (they are retried).",
		}),
		redelivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_batches_redelivered_total", Help: "Batches delivered again that were already stored (acknowledged without a second copy).",
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
	}
	m.reg.MustRegister(m.received, m.rejected, m.processed, m.detections, m.latency, m.storeErrors, m.redelivered, m.requests,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if pending != nil {
		m.reg.MustRegister(&queueCollector{pending: pending,
			waiting:  prometheus.NewDesc("vigil_queue_batches_waiting", "Event batches queued and not yet given to a worker.", nil, nil),
			inFlight: prometheus.NewDesc("vigil_queue_batches_in_flight", "Event batches held by workers and not yet acknowledged.", nil, nil),
		})
	}
	return m
}

// queueCollector asks the queue for its depth at scrape time.
type queueCollector struct {
	pending           func(context.Context) (float64, float64, bool)
	waiting, inFlight *prometheus.Desc
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.waiting; ch <- c.inFlight }

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	w, f, ok := c.pending(ctx)
	if !ok {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.waiting, prometheus.GaugeValue, w)
	ch <- prometheus.MustNewConstMetric(c.inFlight, prometheus.GaugeValue, f)
}
