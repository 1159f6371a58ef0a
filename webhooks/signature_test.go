package webhooks

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	preview "github.com/previewd/previewd"
)

// GitHub's documented test vector for X-Hub-Signature-256 ("Validating
// webhook deliveries").
const (
	vectorSecret    = "It's a Secret to Everybody"
	vectorPayload   = "Hello, World!"
	vectorSignature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
)

// sha1Header returns a correct X-Hub-Signature (SHA-1) value for body.
func sha1Header(t *testing.T, secret, body string) string {
	t.Helper()
	h := hmac.New(sha1.New, []byte(secret))
	h.Write([]byte(body))
	return "sha1=" + hex.EncodeToString(h.Sum(nil))
}

func TestVerifySignature(t *testing.T) {
	digits := strings.TrimPrefix(vectorSignature, "sha256=")
	tests := []struct {
		name    string
		secret  string
		body    string
		header  string
		wantErr error
	}{
		{"github test vector", vectorSecret, vectorPayload, vectorSignature, nil},
		{"upper-case hex", vectorSecret, vectorPayload, "sha256=" + strings.ToUpper(digits), nil},
		{"empty body signed", vectorSecret, "", Signature([]byte(vectorSecret), nil), nil},
		{"empty secret", "", vectorPayload, vectorSignature, ErrNoSecret},
		{"empty secret and header", "", vectorPayload, "", ErrNoSecret},
		{"missing header", vectorSecret, vectorPayload, "", ErrMissingSignature},
		{"correct sha1 refused", vectorSecret, vectorPayload, sha1Header(t, vectorSecret, vectorPayload), ErrBadSignature},
		{"sha1 digits under sha256 prefix", vectorSecret, vectorPayload,
			"sha256=" + strings.TrimPrefix(sha1Header(t, vectorSecret, vectorPayload), "sha1="), ErrBadSignature},
		{"wrong secret", "It's a Secret to Nobody", vectorPayload, vectorSignature, ErrBadSignature},
		{"different body", vectorSecret, "Hello, World?", vectorSignature, ErrBadSignature},
		{"truncated hex", vectorSecret, vectorPayload, vectorSignature[:len(vectorSignature)-2], ErrBadSignature},
		{"odd-length hex", vectorSecret, vectorPayload, vectorSignature[:len(vectorSignature)-1], ErrBadSignature},
		{"extra hex", vectorSecret, vectorPayload, vectorSignature + "00", ErrBadSignature},
		{"non-hex", vectorSecret, vectorPayload, "sha256=" + strings.Repeat("zz", 32), ErrBadSignature},
		{"no prefix", vectorSecret, vectorPayload, digits, ErrBadSignature},
		{"upper-case prefix", vectorSecret, vectorPayload, "SHA256=" + digits, ErrBadSignature},
		{"prefix only", vectorSecret, vectorPayload, "sha256=", ErrBadSignature},
		{"surrounding space", vectorSecret, vectorPayload, " " + vectorSignature, ErrBadSignature},
		{"one digit changed", vectorSecret, vectorPayload, vectorSignature[:len(vectorSignature)-1] + "f", ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifySignature([]byte(tt.secret), []byte(tt.body), tt.header)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("VerifySignature(%q, %q, %q) = %v, want %v", tt.secret, tt.body, tt.header, err, tt.wantErr)
			}
		})
	}
}

func TestSignatureMatchesVector(t *testing.T) {
	if got := Signature([]byte(vectorSecret), []byte(vectorPayload)); got != vectorSignature {
		t.Errorf("Signature() = %q, want %q", got, vectorSignature)
	}
}

func TestSignatureErrorCodes(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{ErrNoSecret, preview.EINTERNAL},
		{ErrMissingSignature, preview.EUNAUTHORIZED},
		{ErrBadSignature, preview.EUNAUTHORIZED},
	}
	for _, tt := range tests {
		if got := preview.ErrorCode(tt.err); got != tt.want {
			t.Errorf("ErrorCode(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestCheckHeaders(t *testing.T) {
	good := "sha256=" + strings.Repeat("ab", 32)
	tests := []struct {
		name      string
		d         preview.Delivery
		wantCode  string
		wantError bool
	}{
		{"GUID and a well-formed signature", preview.Delivery{ID: "72d3162e-cc78-11e3-81ab-4c9367dc0958", Signature: good}, "", false},
		{"no signature", preview.Delivery{ID: "a"}, preview.EUNAUTHORIZED, true},
		{"short signature", preview.Delivery{ID: "a", Signature: "sha256=ab"}, preview.EUNAUTHORIZED, true},
		{"no delivery ID", preview.Delivery{Signature: good}, preview.EINVALID, true},
		{"a 65-character ID", preview.Delivery{ID: strings.Repeat("a", 65), Signature: good}, preview.EINVALID, true},
		{"a path as ID", preview.Delivery{ID: "a/../b", Signature: good}, preview.EINVALID, true},
	}
	for _, tt := range tests {
		err := CheckHeaders(tt.d)
		if (err != nil) != tt.wantError || tt.wantError && preview.ErrorCode(err) != tt.wantCode {
			t.Errorf("%s: got %v (code %s), want code %q", tt.name, err, preview.ErrorCode(err), tt.wantCode)
		}
	}
}
