package app

import (
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// BuildInfo is what the binary knows about its own build.
type BuildInfo struct {
	Version   string // the module version, "(devel)" for a build from a checkout
	Commit    string // the VCS revision, "" when built without VCS information
	Time      string // the commit's time (RFC 3339), "" when unknown
	Modified  bool   // the working tree had uncommitted changes
	GoVersion string
}

// Build reads the build information the Go toolchain embedded in the binary.
func Build() BuildInfo {
	b := BuildInfo{Version: "(devel)", GoVersion: runtime.Version()}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if v := info.Main.Version; v != "" {
		b.Version = v
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Commit = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

// buildInfoGauge is roster_build_info: 1, labelled with the build.
func buildInfoGauge(b BuildInfo) prometheus.Collector {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "roster_build_info", Help: "Always 1; the labels describe the running binary.",
	}, []string{"version", "revision", "goversion"})
	g.WithLabelValues(b.Version, b.Commit, b.GoVersion).Set(1)
	return g
}
