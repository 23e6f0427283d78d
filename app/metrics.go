package app

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rosterhq/roster/sqlstore"
	"github.com/rosterhq/roster/stream"
)

// registerMetrics adds the instance's metrics to reg: the build, the
// streams, the database pools and the query latency. (The API adds the
// request and login metrics, the webhook deliverer its own.) Each is
// registered once per registry: tests may build several apps on one.
func registerMetrics(reg *prometheus.Registry, db *sqlstore.DB, broker *stream.Broker) {
	queries := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "roster_db_query_duration_seconds", Help: "Database statement latency: op is query (reads) or exec (writes).",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"op"})
	read, exec := queries.WithLabelValues("query"), queries.WithLabelValues("exec")
	db.SetQueryObserver(func(isExec bool, d time.Duration) {
		if isExec {
			exec.Observe(d.Seconds())
		} else {
			read.Observe(d.Seconds())
		}
	})
	cs := []prometheus.Collector{
		buildInfoGauge(Build()),
		queries,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "roster_streams_open", Help: "Activity streams open on this instance."},
			func() float64 { return float64(broker.Count()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "roster_stream_deliveries_total", Help: "Activities handed to open streams."},
			func() float64 { return float64(broker.Stats().Delivered) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "roster_stream_drops_total", Help: "Streams ended because their client fell behind."},
			func() float64 { return float64(broker.Stats().Dropped) }),
		collectors.NewDBStatsCollector(db.WriteDB(), "write"),
	}
	for i, result := range []string{"stored", "skipped", "failed"} {
		cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "roster_search_counts_total", Help: "Search counts of many matches, by what became of them: stored in the database, skipped (made again later) or failed.",
			ConstLabels: prometheus.Labels{"result": result},
		}, func() float64 {
			stored, skipped, failed := db.SearchCountStats()
			return float64([]int64{stored, skipped, failed}[i])
		}))
	}
	readGate := func(i int) func() float64 {
		return func() float64 {
			waiting, waits, waited := db.ReadGateStats()
			return []float64{float64(waiting), float64(waits), waited.Seconds()}[i]
		}
	}
	cs = append(cs,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "roster_db_read_waiting", Help: "Reads waiting now for a connection of the read pool (first come, first served)."}, readGate(0)),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "roster_db_read_waits_total", Help: "Reads that waited for a connection of the read pool."}, readGate(1)),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "roster_db_read_wait_seconds_total", Help: "Time reads spent waiting for a connection of the read pool."}, readGate(2)),
	)
	if db.ReadDB() != db.WriteDB() {
		cs = append(cs, collectors.NewDBStatsCollector(db.ReadDB(), "read"))
	}
	for _, c := range cs {
		_ = reg.Register(c)
	}
}
