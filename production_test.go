package preview

import "testing"

func TestProductionIgnoreCovers(t *testing.T) {
	f := ProductionFinding{Address: "aws_autoscaling_group.web", Path: "desired_capacity"}
	tag := ProductionFinding{Address: "aws_autoscaling_group.web", Path: "tags.team"}
	for _, c := range []struct {
		path string
		f    ProductionFinding
		want bool
	}{
		{"aws_autoscaling_group.web.desired_capacity", f, true},
		{"aws_autoscaling_group.*.desired_capacity", f, true},
		{"aws_autoscaling_group.api.desired_capacity", f, false},
		{"aws_autoscaling_group.web.desired", f, false},
		{"aws_autoscaling_group.web.tags", tag, true},
		{"aws_autoscaling_group.web", tag, true},
		{"*.desired_capacity", f, false}, // * is one part: the type is another
		{"aws_autoscaling_group.web.max_size", f, false},
	} {
		if got := (ProductionIgnore{Path: c.path}).Covers(c.f); got != c.want {
			t.Errorf("%q covers %s: %v, want %v", c.path, c.f.Subject(), got, c.want)
		}
	}
}

func TestProductionFindingString(t *testing.T) {
	f := ProductionFinding{Kind: ProductionChangedOutside, Address: "pg_role.app", Path: "connection_limit", Live: "400", Module: "200", Where: "main.tf:31"}
	want := "`pg_role.app.connection_limit` is `400` in production, changed outside Terraform; the module sets `200` (main.tf:31), and the next apply would set it back"
	if got := f.String(); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}
