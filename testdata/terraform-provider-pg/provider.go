package main

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/jackc/pgx/v5"
)

// pgProvider is the provider `pg`: pg_role and pg_database on the server
// the libpq environment names.
type pgProvider struct {
	version string
}

func (p *pgProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "pg"
	resp.Version = p.version
}

func (p *pgProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "PostgreSQL roles and databases on the server named by the libpq environment variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE). The block takes no settings.",
	}
}

// Configure reads the connection settings from the environment; it does
// not connect; each operation does.
func (p *pgProvider) Configure(_ context.Context, _ provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	config, err := pgx.ParseConfig("")
	if err != nil {
		resp.Diagnostics.AddError("PostgreSQL settings", fmt.Sprintf("read the libpq environment variables: %v", err))
		return
	}
	s := &server{config: config}
	resp.ResourceData = s
	resp.DataSourceData = s
}

func (p *pgProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{newRoleResource, newDatabaseResource}
}

func (p *pgProvider) DataSources(context.Context) []func() datasource.DataSource {
	return nil
}

// server runs statements on the PostgreSQL server, one connection per
// operation: a provider lives for one Terraform command, and an operation
// must not outlive the request's context.
type server struct {
	config *pgx.ConnConfig
}

// exec runs a statement that returns no rows.
func (s *server) exec(ctx context.Context, sql string, args ...any) error {
	conn, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql, args...)
	return err
}

// queryRow scans the one row a query returns into dest; pgx.ErrNoRows
// when it returns none.
func (s *server) queryRow(ctx context.Context, sql string, args []any, dest ...any) error {
	conn, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return conn.QueryRow(ctx, sql, args...).Scan(dest...)
}

func (s *server) connect(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, s.config)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	return conn, nil
}

// serverResource gives a resource the provider's server; resources embed
// it for their Configure.
type serverResource struct {
	server *server
}

func (r *serverResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	if req.ProviderData == nil { // validation runs before the provider is configured
		return
	}
	s, ok := req.ProviderData.(*server)
	if !ok {
		resp.Diagnostics.AddError("Unexpected provider data", fmt.Sprintf("got %T, want *server", req.ProviderData))
		return
	}
	r.server = s
}
