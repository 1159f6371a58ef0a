package provisioner

import "os"

// stateSecrets returns the values of the sensitive outputs recorded in the
// local state file at path (see stateDoc.secrets). A missing or unreadable
// state has none.
func stateSecrets(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	doc, err := parseState(b)
	if err != nil {
		return nil
	}
	return doc.secrets()
}
