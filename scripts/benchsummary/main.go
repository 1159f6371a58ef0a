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
	fmt.Printf("\nmake bench on %s/%s, %d cores, %s, %s memory; disk: %s\n\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpuModel(), memory(), disk())
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

// memory is the machine's memory, from /proc/meminfo.
func memory() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "unknown"
	}
	for line := range strings.Lines(string(b)) {
		var kib int64
		if _, err := fmt.Sscanf(line, "MemTotal: %d kB", &kib); err == nil {
			return fmt.Sprintf("%.0f GiB", float64(kib)/(1<<20))
		}
	}
	return "unknown"
}

// disk describes the file system the benchmarks wrote to (the working
// directory's, where their stores and Terraform's files were): its device
// and type, from /proc/self/mountinfo. (Whether it is rotational is left
// out: virtual disks say they are whatever they are.)
func disk() string {
	wd, err := os.Getwd()
	if err != nil {
		return "unknown"
	}
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "unknown"
	}
	best, fsType, source := "", "", ""
	for line := range strings.Lines(string(b)) {
		// ID parent major:minor root mount-point options ... - type source options
		before, after, ok := strings.Cut(line, " - ")
		fields, tail := strings.Fields(before), strings.Fields(after)
		if !ok || len(fields) < 5 || len(tail) < 2 {
			continue
		}
		mount := fields[4]
		if (wd == mount || strings.HasPrefix(wd, strings.TrimSuffix(mount, "/")+"/")) && len(mount) >= len(best) {
			best, fsType, source = mount, tail[0], tail[1]
		}
	}
	if best == "" {
		return "unknown"
	}
	return fmt.Sprintf("%s, %s, mounted on %s", source, fsType, best)
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
