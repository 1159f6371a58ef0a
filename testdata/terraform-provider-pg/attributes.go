package main

import (
	"strconv"

	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
)

// namedAttributes are the attributes pg_role and pg_database share: the
// object's name, which cannot change in place, its id (the name, known
// once created) and its connection limit (-1, no limit, unless set), so
// that a plan after an apply is empty.
func namedAttributes(object string) map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"id": schema.StringAttribute{
			Description:   "The " + object + "'s name.",
			Computed:      true,
			PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
		},
		"name": schema.StringAttribute{
			Description:   "The " + object + "'s name; changing it replaces the " + object + ".",
			Required:      true,
			PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
		},
		"connection_limit": schema.Int64Attribute{
			Description: "How many concurrent connections the " + object + " allows; -1 (the default) for no limit.",
			Optional:    true,
			Computed:    true,
			Default:     int64default.StaticInt64(-1),
		},
	}
}

// connectionLimit is the CONNECTION LIMIT clause of CREATE and ALTER ROLE
// and DATABASE, which take no parameters.
func connectionLimit(n int64) string {
	return " CONNECTION LIMIT " + strconv.FormatInt(n, 10)
}
