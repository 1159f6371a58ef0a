package preview_test

import (
	"strings"
	"testing"

	preview "github.com/previewd/previewd"
)

func TestEnvironmentName(t *testing.T) {
	long := strings.Repeat("very-long-branch-name-", 12) // 264 characters
	tests := []struct {
		name, branch string
		taken        []string
		want         string // exact, or "" to only check validity
		wantPrefix   string
	}{
		{name: "plain", branch: "fix-login", want: "fix-login"},
		{name: "slashes", branch: "feature/login/form", want: "feature-login-form"},
		{name: "upper case", branch: "Feature/LOGIN", want: "feature-login"},
		{name: "unicode", branch: "fix/über-straße", want: "fix-ber-stra-e"},
		{name: "only unicode", branch: "日本語", want: "pr-42"},
		{name: "dots and underscores", branch: "release_1.2..3", want: "release-1-2-3"},
		{name: "leading and trailing junk", branch: "--/x/--", want: "x"},
		{name: "250 characters", branch: long[:250], wantPrefix: "very-long-branch-name-"},
		{name: "reserved", branch: "production", wantPrefix: "production-"},
		{name: "taken", branch: "feature/a", taken: []string{"feature-a"}, wantPrefix: "feature-a-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			taken := func(n string) bool {
				for _, x := range tt.taken {
					if x == n {
						return true
					}
				}
				return false
			}
			got := preview.EnvironmentName("acme/shop", 42, tt.branch, 0, taken)
			if !preview.ValidName(got) {
				t.Fatalf("got %q, not a DNS label", got)
			}
			if tt.want != "" && got != tt.want {
				t.Errorf("got %q want %q", got, tt.want)
			}
			if !strings.HasPrefix(got, tt.wantPrefix) {
				t.Errorf("got %q, want prefix %q", got, tt.wantPrefix)
			}
			if again := preview.EnvironmentName("acme/shop", 42, tt.branch, 0, taken); again != got {
				t.Errorf("not deterministic: %q then %q", got, again)
			}
		})
	}
}

func TestBranchesThatSlugAlikeDoNotCollide(t *testing.T) {
	taken := map[string]bool{}
	isTaken := func(n string) bool { return taken[n] }
	branches := []string{"feature/x", "feature-x", "Feature/X", "feature_x", "FEATURE.X"}
	for i, b := range branches {
		name := preview.EnvironmentName("acme/shop", i+1, b, 0, isTaken)
		if taken[name] {
			t.Fatalf("branch %q got %q, already taken", b, name)
		}
		taken[name] = true
	}
	// Two 250-character branches sharing their first 63 characters.
	a := strings.Repeat("a", 250)
	n1 := preview.EnvironmentName("acme/shop", 10, a+"1", 0, isTaken)
	taken[n1] = true
	n2 := preview.EnvironmentName("acme/shop", 11, a+"2", 0, isTaken)
	if n1 == n2 || len(n1) > 63 || len(n2) > 63 {
		t.Errorf("long branches: got %q and %q", n1, n2)
	}
}

func TestEnvironmentNameRespectsMax(t *testing.T) {
	got := preview.EnvironmentName("acme/shop", 1, strings.Repeat("b", 100), 20, func(n string) bool { return n == strings.Repeat("b", 20) })
	if len(got) > 20 || !preview.ValidName(got) {
		t.Errorf("got %q (%d characters), want a valid name of at most 20", got, len(got))
	}
}

func FuzzEnvironmentName(f *testing.F) {
	for _, s := range []string{"feature/x", "", "日本語", "--", "production", strings.Repeat("ab/", 100)} {
		f.Add(s, 1, 63)
	}
	f.Add(" ", 1, 3)   // an empty slug with a tiny limit
	f.Add("0", -62, 6) // a limit shorter than the hash suffix
	f.Fuzz(func(t *testing.T, branch string, number, max int) {
		taken := map[string]bool{preview.Slug(branch, 63): true}
		got := preview.EnvironmentName("acme/shop", number, branch, max, func(n string) bool { return taken[n] })
		limit := max
		if limit <= 0 || limit > preview.MaxNameLength {
			limit = preview.MaxNameLength
		}
		if !preview.ValidName(got) || len(got) > limit || taken[got] {
			t.Fatalf("branch %q max %d: got %q", branch, max, got)
		}
	})
}

func TestNextAction(t *testing.T) {
	now := mustTime("2026-11-01T12:00:00Z")
	tests := []struct {
		name string
		env  preview.Environment
		want preview.Action
	}{
		{"new", preview.Environment{Status: preview.StatusQueued, HeadSHA: "a", Desired: preview.Desired{Present: true}}, preview.ActionApply},
		{"ready and current", preview.Environment{Status: preview.StatusReady, HeadSHA: "a", AppliedSHA: "a", Desired: preview.Desired{Present: true}}, preview.ActionNone},
		{"ready, new head", preview.Environment{Status: preview.StatusReady, HeadSHA: "b", AppliedSHA: "a", Desired: preview.Desired{Present: true}}, preview.ActionApply},
		{"redeploy", preview.Environment{Status: preview.StatusReady, HeadSHA: "a", AppliedSHA: "a", Desired: preview.Desired{Present: true, Generation: 1}}, preview.ActionApply},
		{"failed at this head", preview.Environment{Status: preview.StatusFailed, HeadSHA: "a", AttemptedSHA: "a", LastPhase: preview.PhaseApply, Attempts: 1, Desired: preview.Desired{Present: true}}, preview.ActionNone},
		{"transient failure, retry due", preview.Environment{Status: preview.StatusFailed, HeadSHA: "a", AttemptedSHA: "a", LastPhase: preview.PhaseApply, Attempts: 1, Transient: true, RetryAt: now, Desired: preview.Desired{Present: true}}, preview.ActionApply},
		{"transient failure, retry not due", preview.Environment{Status: preview.StatusFailed, HeadSHA: "a", AttemptedSHA: "a", LastPhase: preview.PhaseApply, Attempts: 1, Transient: true, RetryAt: now.Add(1), Desired: preview.Desired{Present: true}}, preview.ActionNone},
		{"transient failures exhausted", preview.Environment{Status: preview.StatusFailed, HeadSHA: "a", AttemptedSHA: "a", LastPhase: preview.PhaseApply, Attempts: 5, Transient: true, Desired: preview.Desired{Present: true}}, preview.ActionNone},
		{"failed, new head", preview.Environment{Status: preview.StatusFailed, HeadSHA: "b", AttemptedSHA: "a", Desired: preview.Desired{Present: true}}, preview.ActionApply},
		{"interrupted apply", preview.Environment{Status: preview.StatusProvisioning, HeadSHA: "a", AttemptedSHA: "a", Desired: preview.Desired{Present: true}}, preview.ActionApply},
		{"closed", preview.Environment{Status: preview.StatusReady}, preview.ActionDestroy},
		{"destroyed", preview.Environment{Status: preview.StatusDestroyed}, preview.ActionNone},
		{"destroy failed, retry not due", preview.Environment{Status: preview.StatusFailed, LastPhase: preview.PhaseDestroy, Attempts: 1, RetryAt: now.Add(1)}, preview.ActionNone},
		{"destroy failed, retry due", preview.Environment{Status: preview.StatusFailed, LastPhase: preview.PhaseDestroy, Attempts: 1, RetryAt: now}, preview.ActionDestroy},
		{"destroy gave up", preview.Environment{Status: preview.StatusFailed, LastPhase: preview.PhaseDestroy, Attempts: 5}, preview.ActionNone},
		{"closed after five failed applies", preview.Environment{Status: preview.StatusFailed, LastPhase: preview.PhaseApply, Attempts: 5, AttemptedSHA: "a"}, preview.ActionDestroy},
	}
	for _, tt := range tests {
		if got := tt.env.NextAction(now, 5); got != tt.want {
			t.Errorf("%s: got %q want %q", tt.name, got, tt.want)
		}
	}
}
