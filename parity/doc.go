// Package parity compares a preview environment with production and says,
// finding by finding, where they differ and whether each difference was
// declared. It is previewd's reason to exist: a preview may differ from
// production only where someone declared it should (scale, data,
// external-integration, cost, security), and everything else is drift.
//
// The package runs no Terraform itself and does no I/O beyond reading the
// module, the files and running the commands a Config names. Checker is
// the orchestration the service (after every apply) and `previewd parity`
// share: given a Repository and a Planner (the provisioner, through an
// adapter), it composes both sides' inputs with ResolveInputs (the one
// place a preview's variables are composed, for the apply too), runs every
// check and keeps production's plan per module version. The checks
// themselves take variables, plans (terraform show -json of a saved plan),
// lock files and key lists, and return []preview.Finding. Report turns
// findings into a preview.ParityReport, RenderText prints one.
//
// # The checks
//
//   - CompareVariables: the preview's resolved variables against
//     production's, with the declared differences. Per-pull-request
//     variables (PerPullRequest) are expected to differ.
//   - LoadKeys and CompareKeys: for each configured pair of config sources,
//     every key production has must exist in the preview's. Keys only: no
//     value read from a source ever reaches a finding or an error.
//   - ComparePlans and CompareLockFiles: the structure of the two plans
//     (resources, instance counts, providers) and the provider versions the
//     lock files pin.
//   - CompareAttributes: the planned values of every resource both plans
//     have, and the root outputs, each difference classified as identity,
//     declared or drift, with where its expression is written (read by
//     LoadModuleSource from the module's HCL).
//   - CompareEngine: the engine previews run against production's.
//   - LoadToggles and CompareToggles: feature toggles per tier.
//   - LiveDriftFindings: what a refresh-only plan of a live environment
//     found changed outside Terraform.
//
// # Reading a finding
//
// Production and Preview hold values as text, whole: strings as they are,
// anything else as compact JSON, "(sensitive)" for a sensitive value,
// "(not set)" for a variable one side does not set. Cutting a long value is
// for displays (RenderText, the comment), never for the report. An
// attribute holding a JSON document on both sides is compared key by key,
// its Subject naming the key (".input.settings.feature_flags.new_checkout"). A declared finding's Reason is the
// reason of the declaration that explains it (or, for a toggle, the tier its
// preview value comes from); an undeclared finding's Reason says why it is
// drift ("not declared", "stale declaration: …", …).
package parity
