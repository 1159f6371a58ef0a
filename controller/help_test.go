package controller_test

import (
	"strings"
	"testing"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/controller"
)

// TestHelpListsTheCommentVerbs: the help lists every verb a comment may
// name, with its argument, from the verbs table, and nothing else.
func TestHelpListsTheCommentVerbs(t *testing.T) {
	for _, v := range preview.Verbs() {
		listed := strings.Contains(controller.HelpText, "`/preview "+v.Name)
		if listed != v.Comment {
			t.Errorf("%s listed %v, want %v", v.Name, listed, v.Comment)
		}
	}
	if !strings.Contains(controller.HelpText, "| `/preview extend <duration>` |") || !strings.Contains(controller.HelpText, preview.ApprovalLabel) {
		t.Errorf("help:\n%s", controller.HelpText)
	}
}
