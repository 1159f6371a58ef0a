package storetest

import (
	"context"
	"testing"

	preview "github.com/previewd/previewd"
)

func testCommandsQueue(t *testing.T, open func(*testing.T) Store) {
	db := open(t)
	ctx := context.Background()
	if ok, err := db.RecordCommand(ctx, "c1", preview.Command{Repo: "acme/shop", Number: 1, Verb: "redeploy", User: "alice"}); !ok || err != nil {
		t.Fatalf("record: %v %v", ok, err)
	}
	if ok, _ := db.RecordCommand(ctx, "c1", preview.Command{Verb: "redeploy"}); ok {
		t.Errorf("redelivered command queued twice")
	}
	db.RecordCommand(ctx, "c2", preview.Command{Repo: "acme/shop", Number: 1, Verb: "keep", User: "bob"})
	cmds, err := db.FindCommands(ctx)
	if err != nil || len(cmds) != 2 || cmds[0].Verb != "redeploy" || cmds[0].ID == "" {
		t.Fatalf("queue: got %+v (err %v)", cmds, err)
	}
	db.DeleteCommand(ctx, cmds[0].ID)
	if cmds, _ := db.FindCommands(ctx); len(cmds) != 1 || cmds[0].Verb != "keep" {
		t.Errorf("after delete: got %+v", cmds)
	}
}
