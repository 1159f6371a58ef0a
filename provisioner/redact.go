package provisioner

// stateSecrets returns the values of the sensitive outputs recorded in ws's
// local state file (see stateDoc.secrets). A missing or unreadable state
// has none.
func stateSecrets(ws workspace) []string {
	b, err := readLocalState(ws)
	if err != nil {
		return nil
	}
	doc, err := parseState(b)
	if err != nil {
		return nil
	}
	return doc.secrets()
}
