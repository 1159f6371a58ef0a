package server_test

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/previewd/previewd/internal/apitest"
)

// TestMain checks every admin API answer any test of this package gets
// against the API's OpenAPI description.
func TestMain(m *testing.M) {
	api := &apitest.Transport{Base: http.DefaultTransport}
	http.DefaultTransport = api
	code := m.Run()
	if violations, checked := api.Violations(); len(violations) > 0 {
		fmt.Fprintf(os.Stderr, "%d of %d admin API answers do not keep to its OpenAPI description:\n%s\n", len(violations), checked, strings.Join(violations, "\n"))
		code = 1
	} else if checked == 0 && flag.Lookup("test.run").Value.String() == "" {
		fmt.Fprintln(os.Stderr, "no admin API answer was checked against its OpenAPI description")
		code = 1
	}
	os.Exit(code)
}
