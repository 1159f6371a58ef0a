//go:build !race

package main

// raceEnabled: the tests (or benchmarks) run without the race detector,
// and so does the previewd binary they build.
const raceEnabled = false
