package webhooks

import (
	"errors"
	"slices"
	"testing"

	preview "github.com/previewd/previewd"
)

// fuzzFixtures seed FuzzParse with every fixture under its own event type.
var fuzzFixtures = []struct{ eventType, fixture string }{
	{"pull_request", "pull_request_opened.json"},
	{"pull_request", "pull_request_synchronize.json"},
	{"pull_request", "pull_request_closed_merged.json"},
	{"pull_request", "pull_request_reopened.json"},
	{"pull_request", "pull_request_ready_for_review.json"},
	{"pull_request", "pull_request_labeled.json"},
	{"pull_request", "pull_request_opened_fork.json"},
	{"pull_request", "pull_request_closed_deleted_fork.json"},
	{"pull_request", "pull_request_unlabeled.json"},
	{"issue_comment", "issue_comment_command.json"},
	{"issue_comment", "issue_comment_plain.json"},
	{"issue_comment", "issue_comment_bot.json"},
	{"issue_comment", "issue_comment_on_issue.json"},
	{"issue_comment", "issue_comment_edited.json"},
	{"ping", "ping.json"},
	{"installation", "installation_created.json"},
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzFixtures {
		f.Add(s.eventType, readFixture(f, s.fixture))
	}
	f.Fuzz(func(t *testing.T, eventType string, body []byte) {
		got, err := Parse(eventType, body)
		if err != nil {
			var perr *preview.Error
			if !errors.As(err, &perr) || perr.Code != preview.EINVALID || perr.Message == "" {
				t.Fatalf("Parse() error = %#v, want a *preview.Error with code %q and a message", err, preview.EINVALID)
			}
			return
		}
		switch got.Kind {
		case KindPullRequest:
			pr := got.PullRequest
			if pr.Number <= 0 || pr.HeadSHA == "" || pr.Branch == "" || pr.Repo == "" || pr.UpdatedAt.IsZero() {
				t.Fatalf("Parse() = %+v: want Number > 0 and non-empty HeadSHA, Branch, Repo, UpdatedAt", pr)
			}
			if eventType != "pull_request" {
				t.Fatalf("Parse(%q) = KindPullRequest, want only for pull_request", eventType)
			}
			if got.Command != (preview.Command{}) {
				t.Fatalf("Parse() = %+v: a pull_request event carries no command", got)
			}
			if (got.Action == "labeled" || got.Action == "unlabeled") != (got.Label != "") {
				t.Fatalf("Parse() = %+v: want Label exactly for labeled and unlabeled", got)
			}
		case KindCommand:
			c := got.Command
			if c.Number <= 0 || c.Repo == "" || c.User == "" || c.CommentID <= 0 || !slices.Contains(Verbs, c.Verb) || len(c.Arg) > maxArgLength {
				t.Fatalf("Parse() = %+v: want Number, CommentID > 0, Repo, User, a known Verb and a short Arg", c)
			}
			if eventType != "issue_comment" || got.Action != "created" || got.PullRequest.Number != 0 {
				t.Fatalf("Parse(%q) = %+v: want commands only from created issue_comment events", eventType, got)
			}
		case KindIgnored:
			if got.PullRequest.Number != 0 || got.PullRequest.Repo != "" || got.Command != (preview.Command{}) || got.Sender != "" || got.Label != "" {
				t.Fatalf("Parse() = %+v: an ignored event carries nothing", got)
			}
		default:
			t.Fatalf("Parse() Kind = %v, want ignored, pull_request or command", got.Kind)
		}
	})
}

func FuzzVerifySignature(f *testing.F) {
	f.Add([]byte(vectorSecret), []byte(vectorPayload), vectorSignature, uint(0), byte(1))
	f.Add([]byte("s"), []byte{}, "sha1=0000", uint(3), byte(0x80))
	f.Add([]byte("webhook-secret"), []byte(`{"zen":"Keep it logically awesome."}`), "", uint(7), byte(0xff))
	f.Fuzz(func(t *testing.T, secret, body []byte, header string, pos uint, flip byte) {
		// Arbitrary headers never panic and never verify by accident.
		if err := VerifySignature(secret, body, header); err == nil && !sameMAC(header, Signature(secret, body)) {
			t.Fatalf("VerifySignature(%q, %q, %q) = nil for a header that is not the signature", secret, body, header)
		}
		if len(secret) == 0 {
			if err := VerifySignature(secret, body, Signature(secret, body)); !errors.Is(err, ErrNoSecret) {
				t.Fatalf("VerifySignature with empty secret = %v, want ErrNoSecret", err)
			}
			return
		}
		sig := Signature(secret, body)
		if err := VerifySignature(secret, body, sig); err != nil {
			t.Fatalf("VerifySignature(%q, %q, Signature()) = %v, want nil", secret, body, err)
		}
		for _, changed := range oneByteChanges(body, pos, flip) {
			if err := VerifySignature(secret, changed, sig); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("VerifySignature(%q, %q, signature of %q) = %v, want ErrBadSignature", secret, changed, body, err)
			}
		}
	})
}

// sameMAC reports whether header is sig, perhaps with upper-case hex digits,
// which VerifySignature accepts too.
func sameMAC(header, sig string) bool {
	if len(header) != len(sig) || header[:len(signaturePrefix)] != signaturePrefix {
		return false
	}
	for i := len(signaturePrefix); i < len(sig); i++ {
		h, s := header[i], sig[i]
		if h >= 'A' && h <= 'F' {
			h += 'a' - 'A'
		}
		if h != s {
			return false
		}
	}
	return true
}

// oneByteChanges returns body with one byte replaced, one inserted and one
// deleted, at an offset chosen by pos; the replacement always differs.
func oneByteChanges(body []byte, pos uint, flip byte) [][]byte {
	if flip == 0 {
		flip = 1
	}
	at := int(pos % uint(len(body)+1))
	inserted := append(append(append([]byte{}, body[:at]...), flip), body[at:]...)
	if len(body) == 0 {
		return [][]byte{inserted}
	}
	at = int(pos % uint(len(body)))
	replaced := append([]byte{}, body...)
	replaced[at] ^= flip
	deleted := append(append([]byte{}, body[:at]...), body[at+1:]...)
	return [][]byte{replaced, inserted, deleted}
}
