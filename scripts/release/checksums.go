package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// checksumsName is the checksums file's name in dist/.
func checksumsName(version string) string {
	return fmt.Sprintf("previewd_%s_checksums.txt", version)
}

// writeChecksums writes, in sha256sum's format, the SHA-256 of every
// artefact, and records each in its artefact.
func writeChecksums(out, version string, arts []artefact) error {
	var b strings.Builder
	sorted := append([]artefact(nil), arts...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	sums := map[string]string{}
	for _, a := range sorted {
		sum, err := fileSHA256(filepath.Join(out, a.Name))
		if err != nil {
			return err
		}
		sums[a.Name] = sum
		fmt.Fprintf(&b, "%s  %s\n", sum, a.Name)
	}
	for i := range arts {
		arts[i].SHA256 = sums[arts[i].Name]
	}
	return os.WriteFile(filepath.Join(out, checksumsName(version)), []byte(b.String()), 0o644)
}
