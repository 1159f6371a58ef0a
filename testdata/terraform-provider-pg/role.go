package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/jackc/pgx/v5"
)

// roleResource is pg_role: a role read from pg_roles, so that a role
// dropped by hand leaves the state and a limit changed by hand is drift.
type roleResource struct {
	serverResource
}

var (
	_ resource.ResourceWithConfigure   = (*roleResource)(nil)
	_ resource.ResourceWithImportState = (*roleResource)(nil)
)

func newRoleResource() resource.Resource { return &roleResource{} }

// roleModel is pg_role's data.
type roleModel struct {
	ID              types.String `tfsdk:"id"`
	Name            types.String `tfsdk:"name"`
	Login           types.Bool   `tfsdk:"login"`
	ConnectionLimit types.Int64  `tfsdk:"connection_limit"`
}

func (r *roleResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_role"
}

func (r *roleResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	attributes := namedAttributes("role")
	attributes["login"] = schema.BoolAttribute{
		Description: "Whether the role may log in (false by default).",
		Optional:    true,
		Computed:    true,
		Default:     booldefault.StaticBool(false),
	}
	resp.Schema = schema.Schema{Description: "A PostgreSQL role.", Attributes: attributes}
}

// options are the role's options as CREATE and ALTER ROLE take them.
func (m roleModel) options() string {
	login := " NOLOGIN"
	if m.Login.ValueBool() {
		login = " LOGIN"
	}
	return " WITH" + login + connectionLimit(m.ConnectionLimit.ValueInt64())
}

func (r *roleResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan roleModel
	if resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...); resp.Diagnostics.HasError() {
		return
	}
	if err := r.server.exec(ctx, "CREATE ROLE "+pgx.Identifier{plan.Name.ValueString()}.Sanitize()+plan.options()); err != nil {
		resp.Diagnostics.AddError("Create role", fmt.Sprintf("create role %s: %v", plan.Name.ValueString(), err))
		return
	}
	plan.ID = plan.Name
	resp.Diagnostics.Append(resp.State.Set(ctx, plan)...)
}

func (r *roleResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state roleModel
	if resp.Diagnostics.Append(req.State.Get(ctx, &state)...); resp.Diagnostics.HasError() {
		return
	}
	var login bool
	var limit int64
	err := r.server.queryRow(ctx, "SELECT rolcanlogin, rolconnlimit FROM pg_catalog.pg_roles WHERE rolname = $1", []any{state.Name.ValueString()}, &login, &limit)
	switch {
	case errors.Is(err, pgx.ErrNoRows): // dropped outside Terraform
		resp.State.RemoveResource(ctx)
		return
	case err != nil:
		resp.Diagnostics.AddError("Read role", fmt.Sprintf("read role %s: %v", state.Name.ValueString(), err))
		return
	}
	state.ID = state.Name
	state.Login = types.BoolValue(login)
	state.ConnectionLimit = types.Int64Value(limit)
	resp.Diagnostics.Append(resp.State.Set(ctx, state)...)
}

func (r *roleResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan roleModel
	if resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...); resp.Diagnostics.HasError() {
		return
	}
	if err := r.server.exec(ctx, "ALTER ROLE "+pgx.Identifier{plan.Name.ValueString()}.Sanitize()+plan.options()); err != nil {
		resp.Diagnostics.AddError("Update role", fmt.Sprintf("alter role %s: %v", plan.Name.ValueString(), err))
		return
	}
	plan.ID = plan.Name
	resp.Diagnostics.Append(resp.State.Set(ctx, plan)...)
}

func (r *roleResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state roleModel
	if resp.Diagnostics.Append(req.State.Get(ctx, &state)...); resp.Diagnostics.HasError() {
		return
	}
	if err := r.server.exec(ctx, "DROP ROLE IF EXISTS "+pgx.Identifier{state.Name.ValueString()}.Sanitize()); err != nil {
		resp.Diagnostics.AddError("Delete role", fmt.Sprintf("drop role %s: %v", state.Name.ValueString(), err))
	}
}

// ImportState imports a role by its name; Read fills in the rest.
func (r *roleResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("name"), req, resp)
}
