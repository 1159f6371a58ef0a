package provisioner

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/previewd/previewd/internal/pgtest"
	"github.com/previewd/previewd/internal/waittest"
)

// productionModule is a module production applied, with its state in
// PostgreSQL; limit is the value the module sets.
func productionModule(t *testing.T, limit string) Module {
	t.Helper()
	dir := t.TempDir()
	src := `variable "environment" { type = string }
variable "limit" {
  type    = number
  default = ` + limit + `
}
resource "terraform_data" "db" {
  input = { max_connections = var.limit }
}
output "url" { value = "https://${var.environment}.example.com" }
`
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return Module{Dir: dir}
}

// applyByHand applies mod as production's pipeline would, its state in
// the pg backend at connString.
func applyByHand(t *testing.T, bin string, mod Module, connString string) {
	t.Helper()
	dir := t.TempDir()
	src, _ := os.ReadFile(filepath.Join(mod.Dir, "main.tf"))
	os.WriteFile(filepath.Join(dir, "main.tf"), src, 0o644)
	os.WriteFile(filepath.Join(dir, "backend.tf"), []byte(`terraform {
  backend "pg" {}
}
`), 0o644)
	for _, args := range [][]string{
		{"init", "-input=false", "-no-color", "-backend-config=conn_str=" + connString},
		{"apply", "-auto-approve", "-input=false", "-no-color", "-var", "environment=production"},
	} {
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "TF_IN_AUTOMATION=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("terraform %s: %v\n%s", args[0], err, out)
		}
	}
}

// TestWatchProduction looks at a production applied by hand, with a role
// that may only read its state: nothing apart at first; the module at a
// newer ref shows what the next apply would change; production's state is
// byte for byte what it was after every watch; a wrong credential fails
// the watch and says nothing of the credential. On Terraform and OpenTofu.
func TestWatchProduction(t *testing.T) {
	t.Parallel()
	for engine, bin := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			testWatchProduction(t, bin)
		})
	}
}

func testWatchProduction(t *testing.T, bin string) {
	connString, admin := pgtest.StateDatabase(t)
	mod := productionModule(t, "200")
	applyByHand(t, bin, mod, connString)
	before := pgtest.StateData(t, admin, "default")
	readOnly := pgtest.StateReader(t, connString, admin)
	p, _ := newTestProvisioner(t, mod, func(c *Config) { c.TerraformBin = bin })
	state := ProductionState{State: State{Backend: "pg", Config: map[string]string{"conn_str": readOnly}}}
	ctx := context.Background()

	var log waittest.Buffer
	look, err := p.WatchProduction(ctx, "acme/shop", mod, state, nil, &log)
	if err != nil {
		t.Fatalf("watch: %v\n%s", err, log.String())
	}
	if len(look.Outside.ResourceDrift) != 0 || changed(look.Next) != nil {
		t.Errorf("production as applied: drift %v, next apply %v; want none", look.Outside.ResourceDrift, changed(look.Next))
	}

	// The module at production's ref moved on: the next apply would
	// change production.
	moved := productionModule(t, "400")
	look, err = p.WatchProduction(ctx, "acme/shop", moved, state, nil, &log)
	if err != nil {
		t.Fatalf("watch: %v\n%s", err, log.String())
	}
	if got := changed(look.Next); len(got) != 1 || got[0].Address != "terraform_data.db" {
		t.Errorf("next apply changes %v, want terraform_data.db", got)
	}
	for range 2 {
		if _, err := p.WatchProduction(ctx, "acme/shop", moved, state, nil, &log); err != nil {
			t.Fatal(err)
		}
	}
	if after := pgtest.StateData(t, admin, "default"); !bytes.Equal(before, after) {
		t.Errorf("production's state changed by a watch:\n%s\n→\n%s", before, after)
	}
	if strings.Contains(log.String(), "Acquiring state lock") {
		t.Errorf("a watch took the state lock:\n%s", log.String())
	}

	u, _ := url.Parse(connString)
	u.User = url.UserPassword("nobody_"+hex.EncodeToString([]byte(bin))[:6], "s3cret-canary")
	wrong := ProductionState{State: State{Backend: "pg", Config: map[string]string{"conn_str": u.String()}}}
	_, err = p.WatchProduction(ctx, "acme/shop", mod, wrong, nil, io.Discard)
	if err == nil {
		t.Fatal("a watch with a wrong credential succeeded")
	}
	if strings.Contains(err.Error(), "s3cret-canary") {
		t.Errorf("the error shows the credential: %v", err)
	}
}

// changed is plan's resource changes other than no-ops.
func changed(plan *tfjson.Plan) []*tfjson.ResourceChange {
	var out []*tfjson.ResourceChange
	for _, rc := range plan.ResourceChanges {
		if rc.Change != nil && !rc.Change.Actions.NoOp() {
			out = append(out, rc)
		}
	}
	return out
}

// TestReadOnlyRunRefusesWrites: a read-only run refuses, before starting
// Terraform, every command that writes the state or takes its lock.
func TestReadOnlyRunRefusesWrites(t *testing.T) {
	c := commandRunner{bin: "/bin/false", readOnly: true, log: &runLog{w: io.Discard}}
	for _, args := range [][]string{
		{"apply", "-auto-approve", "plan.out"},
		{"destroy", "-auto-approve"},
		{"import", "a.b", "id"},
		{"state", "push", "x.tfstate"},
		{"state", "rm", "a.b"},
		{"force-unlock", "-force", "1"},
		{"workspace", "new", "x"},
		{"taint", "a.b"},
		{"refresh"},
		{"plan", "-out=p"},
		{"init"},
	} {
		if err := c.run(context.Background(), io.Discard, args...); !errors.Is(err, ErrReadOnly) {
			t.Errorf("%v: %v, want ErrReadOnly", args, err)
		}
	}
	for _, args := range [][]string{{"plan", "-lock=false"}, {"init", "-lock=false"}, {"show", "-json", "p"}, {"state", "pull"}, {"version"}} {
		if problem := readOnlyProblem(args); problem != "" {
			t.Errorf("%v refused: %s", args, problem)
		}
	}
}
