// Package webhooks checks and parses GitHub webhook deliveries: it verifies
// the X-Hub-Signature-256 header and turns the few events previewd acts on
// into domain values (preview.PullRequest for pull_request events,
// preview.Command for "/preview …" comments). Parse does no I/O and keeps
// no state; Intake verifies, parses and hands what a delivery changes to
// the store.
package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"

	preview "github.com/previewd/previewd"
)

// SignatureHeader is the header GitHub signs deliveries in.
const SignatureHeader = "X-Hub-Signature-256"

// signaturePrefix starts every value of SignatureHeader.
const signaturePrefix = "sha256="

// ErrNoSecret is returned by VerifySignature when no webhook secret is
// configured. It is a configuration error, not the caller's fault, so its
// code is preview.EINTERNAL: previewd never accepts unsigned deliveries.
var ErrNoSecret = errors.New("webhooks: no webhook secret configured")

// ErrMissingSignature is returned by VerifySignature when the delivery has no
// X-Hub-Signature-256 header. Its code is preview.EUNAUTHORIZED.
var ErrMissingSignature = &preview.Error{
	Code:    preview.EUNAUTHORIZED,
	Message: "missing " + SignatureHeader + " header",
}

// ErrBadSignature is returned by VerifySignature for any signature that does
// not prove the body was sent by GitHub with the configured secret. Its code
// is preview.EUNAUTHORIZED; the message deliberately does not say what was
// wrong with the signature.
var ErrBadSignature = &preview.Error{
	Code:    preview.EUNAUTHORIZED,
	Message: "invalid " + SignatureHeader + " signature",
}

// VerifySignature checks header, the value of the X-Hub-Signature-256 header
// ("sha256=" followed by 64 hexadecimal digits), against HMAC-SHA256(secret,
// body), comparing in constant time. It returns nil when they match,
// ErrNoSecret for an empty secret, ErrMissingSignature for an empty header,
// and ErrBadSignature for everything else: a "sha1=" signature (SHA-1 is
// refused even when correct), a missing or different prefix, malformed hex,
// a wrong length or a wrong value. Hex digits may be in either case.
func VerifySignature(secret, body []byte, header string) error {
	if len(secret) == 0 {
		return ErrNoSecret
	}
	got, err := parseSignature(header)
	if err != nil {
		return err
	}
	if !hmac.Equal(got, mac(secret, body)) {
		return ErrBadSignature
	}
	return nil
}

// parseSignature returns the HMAC a X-Hub-Signature-256 value carries, or
// ErrMissingSignature or ErrBadSignature when it cannot be right.
func parseSignature(header string) ([]byte, error) {
	if header == "" {
		return nil, ErrMissingSignature
	}
	digits, ok := strings.CutPrefix(header, signaturePrefix)
	if !ok || len(digits) != hex.EncodedLen(sha256.Size) {
		return nil, ErrBadSignature
	}
	got, err := hex.DecodeString(digits)
	if err != nil {
		return nil, ErrBadSignature
	}
	return got, nil
}

// deliveryID is what a GitHub delivery ID may look like: GitHub sends a
// GUID; anything short of letters, digits, dashes, dots and underscores is
// accepted so redelivery tools keep working.
var deliveryID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// CheckHeaders refuses a delivery by its headers alone, so a caller can do
// it before reading the body: a signature that cannot be right
// (ErrMissingSignature, ErrBadSignature) or a delivery ID that is not one
// GitHub sends (an EINVALID error: the ID is stored for de-duplication, so
// it is bounded).
func CheckHeaders(d preview.Delivery) error {
	if _, err := parseSignature(d.Signature); err != nil {
		return err
	}
	if !deliveryID.MatchString(d.ID) {
		return preview.Errorf(preview.EINVALID, "X-GitHub-Delivery must be GitHub's delivery ID (a GUID)")
	}
	return nil
}

// Signature returns the X-Hub-Signature-256 value GitHub sends for body
// signed with secret: "sha256=" and the lower-case hex HMAC-SHA256. The
// server's tests and local tools use it to sign deliveries.
func Signature(secret, body []byte) string {
	return signaturePrefix + hex.EncodeToString(mac(secret, body))
}

// mac returns HMAC-SHA256(secret, body).
func mac(secret, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write(body)
	return h.Sum(nil)
}
