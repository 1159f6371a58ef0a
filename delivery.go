package preview

import "time"

// Webhook deliveries: one as GitHub sends it, one attempt as GitHub's
// delivery log records it, and what receiving one did.

// Delivery is one webhook delivery as GitHub sent it.
type Delivery struct {
	ID        string // X-GitHub-Delivery
	Event     string // X-GitHub-Event
	Signature string // X-Hub-Signature-256
	Body      []byte
}

// HookDelivery is one attempt GitHub made at delivering a webhook to
// previewd, as its delivery log records it.
type HookDelivery struct {
	ID          int64     // the attempt, which a redelivery names
	GUID        string    // the delivery (X-GitHub-Delivery), shared by its attempts
	Event       string    // X-GitHub-Event
	StatusCode  int       // what previewd answered; 0 when nothing answered
	DeliveredAt time.Time // when GitHub sent it
	Redelivery  bool      // the attempt is a redelivery
}

// Commit is one commit of a repository.
type Commit struct {
	Repo string // owner/name
	SHA  string
}

// Receipt says what receiving a delivery did, for the server to answer
// and to tell the controller.
type Receipt struct {
	// RecordResult is what recording a pull request's state did (zero
	// for any other event).
	RecordResult
	// CommandQueued says a command (or an approval) waits for the
	// controller to check the user's access and carry it out.
	CommandQueued bool
	// ChecksOf is the commit whose checks or statuses changed: the
	// environments waiting on it read them again. Nothing is recorded.
	ChecksOf Commit
	// Pushed is a push to a branch of a repository (maybe production's
	// module's): modules from git are resolved again. Nothing is recorded.
	Pushed Commit
}
