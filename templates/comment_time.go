package templates

import (
	"fmt"
	"time"
)

func when(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// expiry is the sentence saying when an environment expiring at expires is
// torn down, seen at now (unknown when zero).
func expiry(expires, now time.Time) string {
	at := "**" + when(expires) + "**"
	switch left := expires.Sub(now); {
	case now.IsZero():
		return "This environment expires at " + at + " unless the pull request is updated."
	case left <= 0:
		return "This environment expired at " + at + " and is about to be torn down."
	default:
		return "This environment expires " + untilText(left) + " (at " + at + ") unless the pull request is updated."
	}
}

// untilText says how long d is, rounded so that it changes at most once an
// hour: "in less than an hour", "in 5 hours", "in 3 days".
func untilText(d time.Duration) string {
	hours := int((d + 30*time.Minute) / time.Hour)
	switch {
	case d < time.Hour:
		return "in less than an hour"
	case hours == 1:
		return "in 1 hour"
	case d < 48*time.Hour:
		return fmt.Sprintf("in %d hours", hours)
	default:
		return fmt.Sprintf("in %d days", int((d+12*time.Hour)/(24*time.Hour)))
	}
}
