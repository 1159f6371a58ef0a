package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/jackc/pgx/v5"
)

// databaseResource is pg_database: a database read from pg_database, so
// that a database dropped by hand leaves the state and a limit changed by
// hand is drift.
type databaseResource struct {
	serverResource
}

var (
	_ resource.ResourceWithConfigure   = (*databaseResource)(nil)
	_ resource.ResourceWithImportState = (*databaseResource)(nil)
)

func newDatabaseResource() resource.Resource { return &databaseResource{} }

// databaseModel is pg_database's data.
type databaseModel struct {
	ID              types.String `tfsdk:"id"`
	Name            types.String `tfsdk:"name"`
	ConnectionLimit types.Int64  `tfsdk:"connection_limit"`
}

func (r *databaseResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_database"
}

func (r *databaseResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{Description: "A PostgreSQL database.", Attributes: namedAttributes("database")}
}

func (r *databaseResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan databaseModel
	if resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...); resp.Diagnostics.HasError() {
		return
	}
	if err := r.server.exec(ctx, "CREATE DATABASE "+pgx.Identifier{plan.Name.ValueString()}.Sanitize()+connectionLimit(plan.ConnectionLimit.ValueInt64())); err != nil {
		resp.Diagnostics.AddError("Create database", fmt.Sprintf("create database %s: %v", plan.Name.ValueString(), err))
		return
	}
	plan.ID = plan.Name
	resp.Diagnostics.Append(resp.State.Set(ctx, plan)...)
}

func (r *databaseResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state databaseModel
	if resp.Diagnostics.Append(req.State.Get(ctx, &state)...); resp.Diagnostics.HasError() {
		return
	}
	var limit int64
	err := r.server.queryRow(ctx, "SELECT datconnlimit FROM pg_catalog.pg_database WHERE datname = $1", []any{state.Name.ValueString()}, &limit)
	switch {
	case errors.Is(err, pgx.ErrNoRows): // dropped outside Terraform
		resp.State.RemoveResource(ctx)
		return
	case err != nil:
		resp.Diagnostics.AddError("Read database", fmt.Sprintf("read database %s: %v", state.Name.ValueString(), err))
		return
	}
	state.ID = state.Name
	state.ConnectionLimit = types.Int64Value(limit)
	resp.Diagnostics.Append(resp.State.Set(ctx, state)...)
}

func (r *databaseResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan databaseModel
	if resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...); resp.Diagnostics.HasError() {
		return
	}
	if err := r.server.exec(ctx, "ALTER DATABASE "+pgx.Identifier{plan.Name.ValueString()}.Sanitize()+" WITH"+connectionLimit(plan.ConnectionLimit.ValueInt64())); err != nil {
		resp.Diagnostics.AddError("Update database", fmt.Sprintf("alter database %s: %v", plan.Name.ValueString(), err))
		return
	}
	plan.ID = plan.Name
	resp.Diagnostics.Append(resp.State.Set(ctx, plan)...)
}

// Delete drops the database even while sessions use it (WITH (FORCE)
// ends them), as destroying an environment must.
func (r *databaseResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state databaseModel
	if resp.Diagnostics.Append(req.State.Get(ctx, &state)...); resp.Diagnostics.HasError() {
		return
	}
	if err := r.server.exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{state.Name.ValueString()}.Sanitize()+" WITH (FORCE)"); err != nil {
		resp.Diagnostics.AddError("Delete database", fmt.Sprintf("drop database %s: %v", state.Name.ValueString(), err))
	}
}

// ImportState imports a database by its name; Read fills in the rest.
func (r *databaseResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("name"), req, resp)
}
