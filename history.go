package preview

import "time"

// Transition is a change of an environment's status: when, to what, and
// why its desired state was what it was then.
type Transition struct {
	At     time.Time `json:"at"`
	Status Status    `json:"status"`
	Reason Reason    `json:"reason,omitempty"`
	Error  string    `json:"error,omitempty"` // the start of the error, for a failure
}

// historyLength is how many transitions an environment keeps.
const historyLength = 50

// NoteStatus adds a transition to e's history when its status is no longer
// before: the stores call it on every write, so every change is kept,
// whoever made it.
func NoteStatus(before Status, e *Environment, now time.Time) {
	if e.Status == before {
		return
	}
	t := Transition{At: now.UTC(), Status: e.Status, Reason: e.Desired.Reason}
	if e.Status == StatusFailed {
		t.Error = e.LastError
		if len(t.Error) > 300 {
			t.Error = "…" + t.Error[len(t.Error)-300:]
		}
	}
	e.History = append(e.History, t)
	if n := len(e.History); n > historyLength {
		e.History = append(e.History[:0:0], e.History[n-historyLength:]...)
	}
}
