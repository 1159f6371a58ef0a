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

func TestMetricName(t *testing.T) {
	for in, want := range map[string]string{"ack p50, bbolt": "ack-p50-bbolt", "3 replicas vs 1": "3-replicas-vs-1", "fan-out 100: ready": "fan-out-100-ready"} {
		if got := metricName(in); got != want {
			t.Errorf("metricName(%q) = %q, want %q", in, got, want)
		}
	}
}
