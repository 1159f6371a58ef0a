package server_test

import (
	"os"
	"testing"

	"github.com/previewd/previewd/internal/apitest"
)

// TestMain checks every admin API answer any test of this package gets
// against the API's OpenAPI description.
func TestMain(m *testing.M) {
	api := apitest.Install()
	os.Exit(api.Verdict(m.Run()))
}
