package benchtest

import "testing"

func TestFigureMet(t *testing.T) {
	for _, c := range []struct {
		f    Figure
		want bool
	}{
		{Figure{Value: 1.2, Floor: 1, Goal: 1.3}, true},
		{Figure{Value: 1.4, Floor: 1, Goal: 1.3}, false},
		{Figure{Value: 1.2, Floor: 1, Goal: 1.3, Limit: 1.1}, false},
		{Figure{Value: 90, Limit: 100}, true},
		{Figure{Value: 2.6, Floor: 1, Goal: 2.5, HigherBetter: true}, true},
		{Figure{Value: 2.4, Floor: 1, Goal: 2.5, HigherBetter: true}, false},
	} {
		if got := c.f.Met(); got != c.want {
			t.Errorf("%+v: met %v, want %v (ratio %.2f)", c.f, got, c.want, c.f.Ratio())
		}
	}
}
