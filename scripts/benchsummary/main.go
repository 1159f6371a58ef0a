// Command benchsummary prints the one-screen table that ends `make bench`:
// each figure beside its floor, the ratio, the goal and whether it was
// met, from the figures the benchmarks appended (internal/benchtest), and
// the machine they ran on.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"

	"github.com/previewd/previewd/internal/benchtest"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: benchsummary FIGURES.jsonl")
		os.Exit(2)
	}
	file, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchsummary:", err)
		os.Exit(1)
	}
	defer file.Close()
	var figures []benchtest.Figure
	lines := bufio.NewScanner(file)
	for lines.Scan() {
		var f benchtest.Figure
		if err := json.Unmarshal(lines.Bytes(), &f); err != nil {
			fmt.Fprintln(os.Stderr, "benchsummary:", err)
			os.Exit(1)
		}
		figures = append(figures, f)
	}
	fmt.Printf("\nmake bench on %s/%s, %d cores, %s\n\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpuModel())
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "figure\tvalue\tfloor\tratio\tgoal\tmet")
	for _, f := range figures {
		floor, ratio := "—", "—"
		if f.Floor > 0 {
			floor, ratio = fmt.Sprintf("%s %s (%s)", num(f.Floor), f.Unit, f.FloorName), fmt.Sprintf("%.2f", f.Ratio())
		}
		fmt.Fprintf(w, "%s\t%s %s\t%s\t%s\t%s\t%s\n", f.Name, num(f.Value), f.Unit, floor, ratio, goal(f), map[bool]string{true: "yes", false: "NO"}[f.Met()])
	}
	w.Flush()
}

func num(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

func goal(f benchtest.Figure) string {
	var parts []string
	cmp := "≤"
	if f.HigherBetter {
		cmp = "≥"
	}
	if f.Goal > 0 {
		parts = append(parts, fmt.Sprintf("%s %.2f×", cmp, f.Goal))
	}
	if f.Limit > 0 {
		parts = append(parts, fmt.Sprintf("%s %s %s", cmp, num(f.Limit), f.Unit))
	}
	if len(parts) == 0 {
		return "—"
	}
	return strings.Join(parts, ", ")
}

// cpuModel is the processor's name, from /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "an unknown processor"
	}
	for line := range strings.Lines(string(b)) {
		if name, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimLeft(name, "\t :"))
		}
	}
	return "an unknown processor"
}
