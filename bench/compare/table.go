package compare

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/msrprelay/msrprelay/bench/load"
)

// WriteRunTable prints one run's result for a reader.
func WriteRunTable(w io.Writer, r *load.Result) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "target\t%s\n", r.Target)
	fmt.Fprintf(tw, "scenario\t%d pairs x window %d, %d-byte bodies, %s topology\n", r.Pairs, r.Window, r.BodySize, r.Topology)
	if r.Transport != "" {
		fmt.Fprintf(tw, "transport\t%s\n", r.Transport)
	}
	fmt.Fprintf(tw, "sent / delivered\t%d / %d in %.2f s\n", r.Sent, r.Delivered, r.Seconds)
	fmt.Fprintf(tw, "throughput\t%.0f msgs/s  %.2f MB/s\n", r.MsgsPerSec, r.MBPerSec)
	l := r.Latency
	fmt.Fprintf(tw, "latency us\tp50 %d  p90 %d  p99 %d  p99.9 %d  max %d  mean %.0f\n", l.P50, l.P90, l.P99, l.P999, l.Max, l.Mean)
	fmt.Fprintf(tw, "session setup\t%d AUTHs in %.2f s (%.0f/s)\n", r.Setup.Auths, r.Setup.Seconds, r.Setup.AuthsPerSec)
	if r.Relay != nil {
		fmt.Fprintf(tw, "relay cpu\t%.1f us/msg (%.2f cores), RSS %d -> %d KB\n", r.Relay.CPUPerMsgUs, r.Relay.CPUShare, r.Relay.RSSStartKB, r.Relay.RSSEndKB)
	}
	fmt.Fprintf(tw, "generator cpu\t%.1f us/msg (%.2f cores)\n", r.Generator.CPUPerMsgUs, r.Generator.CPUShare)
	if r.Chunks > 0 {
		fmt.Fprintf(tw, "chunked SENDs\t%d\n", r.Chunks)
	}
	if n := r.ErrorCount(); n == 0 {
		fmt.Fprintf(tw, "errors\tnone\n")
	} else {
		for _, k := range r.ErrorKinds() {
			fmt.Fprintf(tw, "error %s\t%d\n", k, r.Errors[k])
		}
		if r.FirstError != "" {
			fmt.Fprintf(tw, "first error\t%s\n", r.FirstError)
		}
	}
	tw.Flush()
}
