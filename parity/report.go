package parity

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	preview "github.com/previewd/previewd"
)

// kindOrder is the order findings of each kind are listed in.
var kindOrder = []preview.FindingKind{
	preview.FindingVariable, preview.FindingConfigKey, preview.FindingResource,
	preview.FindingAttribute, preview.FindingProviderVersion, preview.FindingEngineVersion,
	preview.FindingToggle, preview.FindingLiveDrift,
}

// Report gathers the findings of every check into a report checked now:
// undeclared findings first, then by kind (variable, config_key, resource,
// provider_version, toggle, live_drift) and subject. Its status is
// preview.Verdict's; Findings is never nil, so JSON shows [].
func Report(findings ...[]preview.Finding) preview.ParityReport {
	all := slices.Concat(findings...)
	if all == nil {
		all = []preview.Finding{}
	}
	slices.SortStableFunc(all, func(a, b preview.Finding) int {
		if a.Declared != b.Declared {
			if !a.Declared {
				return -1
			}
			return 1
		}
		return cmp.Or(
			cmp.Compare(slices.Index(kindOrder, a.Kind), slices.Index(kindOrder, b.Kind)),
			strings.Compare(a.Subject, b.Subject),
		)
	})
	return preview.ParityReport{Status: preview.Verdict(all), CheckedAt: time.Now().UTC().Truncate(time.Second), Findings: all}
}

// LiveDriftFindings turns what a refresh-only plan of a live environment
// found changed outside Terraform (provisioner.DetectDrift's changes) into
// undeclared live_drift findings.
func LiveDriftFindings(changes []string) []preview.Finding {
	findings := make([]preview.Finding, 0, len(changes))
	for _, c := range changes {
		findings = append(findings, preview.Finding{
			Kind: preview.FindingLiveDrift, Subject: c,
			Production: "as last applied", Preview: "changed outside Terraform",
			Reason: "changed outside Terraform",
		})
	}
	return findings
}

// RenderText writes report for a terminal: a one-line verdict, then a table
// of findings, undeclared ones marked DRIFT.
func RenderText(w io.Writer, report preview.ParityReport) error {
	undeclared := 0
	for _, f := range report.Findings {
		if !f.Declared {
			undeclared++
		}
	}
	verdict := "parity: ok, the preview differs from production only where declared"
	if report.Status == preview.ParityDrift {
		verdict = fmt.Sprintf("parity: DRIFT, %d undeclared %s", undeclared, plural(undeclared, "difference", "differences"))
	}
	if _, err := fmt.Fprintf(w, "%s (%d declared; checked %s)\n", verdict, len(report.Findings)-undeclared, report.CheckedAt.Format(time.RFC3339)); err != nil {
		return err
	}
	if report.IdentityDifferences > 0 || report.UnknownValues > 0 {
		fmt.Fprintf(w, "%d %s only by the environment's name (--all lists them); %d %s until apply, not compared\n",
			report.IdentityDifferences, plural(report.IdentityDifferences, "value differs", "values differ"),
			report.UnknownValues, plural(report.UnknownValues, "value unknown", "values unknown"))
	}
	if len(report.Findings) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	located := slices.ContainsFunc(report.Findings, func(f preview.Finding) bool { return f.Location != "" })
	header := "\n\tKIND\tSUBJECT\tPRODUCTION\tPREVIEW\tWHY"
	if located {
		header += "\tWHERE"
	}
	fmt.Fprintln(tw, header)
	for _, f := range report.Findings {
		mark, why := "DRIFT", f.Reason
		if f.Declared {
			mark, why = "ok", "declared: "+f.Reason
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s", mark, f.Kind, oneLine(f.Subject), oneLine(f.Production), oneLine(f.Preview), why)
		if located {
			where := f.Location
			if where == "" {
				where = "-"
			}
			fmt.Fprintf(tw, "\t%s", oneLine(where))
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// oneLine keeps a cell on one line and out of the table's way.
func oneLine(s string) string {
	s = strings.NewReplacer("\n", `\n`, "\t", " ", "\r", `\r`).Replace(s)
	if s == "" {
		return `""`
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
