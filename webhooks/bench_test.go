package webhooks

import "testing"

// BenchmarkVerifyAndParse measures the work the server does per delivery on
// a full-size (~25 KB) synchronize payload, as GitHub sends it.
func BenchmarkVerifyAndParse(b *testing.B) {
	body := readFixture(b, "pull_request_synchronize_full.json")
	secret := []byte("a-webhook-secret-of-reasonable-length")
	sig := Signature(secret, body)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := VerifySignature(secret, body, sig); err != nil {
			b.Fatal(err)
		}
		ev, err := Parse("pull_request", body)
		if err != nil || ev.Kind != KindPullRequest {
			b.Fatalf("Parse() = %+v, %v", ev, err)
		}
	}
}
