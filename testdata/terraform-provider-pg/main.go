// Command terraform-provider-pg is a small Terraform provider for
// PostgreSQL roles and databases: resources that exist outside Terraform,
// so that a test can change one by hand and watch Terraform see the drift.
// It serves previewd's tests only (scripts/pg-provider.sh builds it into a
// filesystem mirror); the Go module proxy serves no PostgreSQL provider.
//
// It connects with the standard libpq environment variables (PGHOST,
// PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE, …) and takes no
// settings in its configuration block, so no credential reaches a state or
// a plan.
package main

import (
	"context"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
)

// address is the provider's source address as Terraform resolves
// previewd/pg; OpenTofu's name for it (registry.opentofu.org/previewd/pg)
// reaches the same binary.
const address = "registry.terraform.io/previewd/pg"

// version is the release the build stamps (-X main.version=…);
// scripts/pg-provider.sh owns the number.
var version = "dev"

func main() {
	err := providerserver.Serve(context.Background(), func() provider.Provider { return &pgProvider{version: version} }, providerserver.ServeOpts{Address: address})
	if err != nil {
		log.Fatal(err)
	}
}
