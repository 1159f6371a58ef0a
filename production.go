package preview

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Production drifts too: an emergency fix applied straight to production,
// a console change, a merge never applied. A preview can match production's
// module perfectly and still not match what production runs, and the next
// deploy silently reverts the fix. previewd looks at production read-only
// (a refresh-only plan: the world against the state; and a normal plan:
// the state against the module at production's ref) and keeps what it
// found as a ProductionWatch.

// ProductionWatch is one read-only look at a repository's production.
type ProductionWatch struct {
	Repo string    `json:"repo"`
	At   time.Time `json:"at"` // when the watch started
	// Took is how long the watch ran.
	Took time.Duration `json:"took"`
	// Module is the version of production's module compared with.
	Module ModuleVersion `json:"module"`
	// Error says why the watch failed (a wrong credential, a backend that
	// did not answer), never with a credential; Findings are then empty.
	Error string `json:"error,omitempty"`
	// Findings are production's differences from its state and its module,
	// each attribute once; Ignored counts those production.ignore expects.
	Findings []ProductionFinding `json:"findings"`
	Ignored  int                 `json:"ignored"`
	// Issue is the number of the GitHub issue that reports this
	// repository's production drift, once one was opened (kept from watch
	// to watch, so it is updated in place and never duplicated).
	Issue int `json:"issue,omitempty"`
}

// Failed reports whether the watch could not look at production.
func (w ProductionWatch) Failed() bool { return w.Error != "" }

// Drifted reports whether the watch found production apart from its
// module.
func (w ProductionWatch) Drifted() bool { return w.Error == "" && len(w.Findings) > 0 }

// The kinds of a ProductionFinding.
const (
	// ProductionChangedOutside: production's live value differs from the
	// state, changed outside Terraform (a hotfix, a console change). The
	// next apply of the module would set it back.
	ProductionChangedOutside = "changed_outside"
	// ProductionDeletedOutside: the resource is gone outside Terraform.
	ProductionDeletedOutside = "deleted_outside"
	// ProductionPending: the module at production's ref would change
	// production at its next apply (a merge not applied yet).
	ProductionPending = "pending"
)

// ProductionFinding is one attribute of production apart from its module.
type ProductionFinding struct {
	Kind string `json:"kind"`
	// Address is the resource's address, Path the attribute's within it
	// ("connection_limit", "tags.team"); "" for the whole resource.
	Address string `json:"address"`
	Path    string `json:"path,omitempty"`
	// Live is the value production runs, Module the value the module sets
	// (the value the next apply would write); either is Redacted when
	// sensitive, and "" when there is none.
	Live   string `json:"live"`
	Module string `json:"module"`
	// Where is the module's file and line that sets the attribute
	// ("main.tf:31"), when known.
	Where string `json:"where,omitempty"`
}

// Subject is the finding's address and path, as one name.
func (f ProductionFinding) Subject() string {
	if f.Path == "" {
		return f.Address
	}
	return f.Address + "." + f.Path
}

// String tells the finding in a sentence.
func (f ProductionFinding) String() string {
	where := ""
	if f.Where != "" {
		where = " (" + f.Where + ")"
	}
	switch f.Kind {
	case ProductionChangedOutside:
		return fmt.Sprintf("`%s` is `%s` in production, changed outside Terraform; the module sets `%s`%s, and the next apply would set it back", f.Subject(), f.Live, f.Module, where)
	case ProductionDeletedOutside:
		return fmt.Sprintf("`%s` was deleted outside Terraform; the next apply would create it again%s", f.Address, where)
	}
	return fmt.Sprintf("`%s` is `%s` in production; the module at production's ref sets `%s`%s, not applied yet", f.Subject(), f.Live, f.Module, where)
}

// ProductionIgnore is an attribute expected to move in production (an
// autoscaler's desired_capacity), with the reason: counted, not reported.
type ProductionIgnore struct {
	// Path is an attribute path: "aws_autoscaling_group.web.desired_capacity",
	// or a resource type's "aws_autoscaling_group.*.desired_capacity".
	Path   string `json:"path" yaml:"path"`
	Reason string `json:"reason" yaml:"reason"`
}

// ProductionWatchFilter selects production watches: Repo's ("" every
// repository's), newest first, at most Limit (all when not positive).
type ProductionWatchFilter struct {
	Repo  string
	Limit int
}

// Covers reports whether i covers f: i.Path names f's subject or a part of
// it ("aws_autoscaling_group.web.tags" covers every tag), where "*" stands
// for any part of an address between dots ("aws_autoscaling_group.*.desired_capacity").
func (i ProductionIgnore) Covers(f ProductionFinding) bool {
	pattern := "^" + strings.ReplaceAll(regexp.QuoteMeta(i.Path), `\*`, `[^.]*`) + `(\..*)?$`
	ok, err := regexp.MatchString(pattern, f.Subject())
	return err == nil && ok
}
