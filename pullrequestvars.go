package preview

// pullRequestVariables are the variables previewd passes each preview's
// module, when it declares them: who the environment is. The only place
// their names are written.
var pullRequestVariables = []struct {
	name  string
	value func(Environment) any
}{
	{"environment", func(e Environment) any { return e.Name }},
	{"pr_number", func(e Environment) any { return e.PR }},
	{"branch", func(e Environment) any { return e.Branch }},
	{"head_sha", func(e Environment) any { return e.HeadSHA }},
	{"repo", func(e Environment) any { return e.Repo }},
}

// PullRequestVariableNames names the variables previewd passes each
// preview, in order; a configuration cannot set or declare them.
func PullRequestVariableNames() []string {
	names := make([]string, len(pullRequestVariables))
	for i, v := range pullRequestVariables {
		names[i] = v.name
	}
	return names
}

// PullRequestVariables are e's values of those variables, by name.
func (e Environment) PullRequestVariables() map[string]any {
	out := make(map[string]any, len(pullRequestVariables))
	for _, v := range pullRequestVariables {
		out[v.name] = v.value(e)
	}
	return out
}
