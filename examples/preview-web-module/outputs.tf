locals {
  # Each server writes its real URL to <dir>/url once it listens. Terraform
  # 1.5 evaluates an output at plan time when it can, and does not evaluate
  # it again after apply; depending on the resource's id, unknown while the
  # server is being (re)created, defers reading the file until after the
  # create provisioner has run.
  urls = [
    for w in terraform_data.web :
    w.id == "" ? "" : fileexists("${w.input.dir}/url") ? trimspace(file("${w.input.dir}/url")) : ""
  ]
}

output "url" {
  description = "URL of the first instance."
  value       = local.urls[0]
}

output "urls" {
  description = "URL of every instance."
  value       = local.urls
}

output "data_dir" {
  description = "Where the environment's data lives (what a seed command fills), shared by every instance."
  value       = "${local.state_dir}/data"
}

output "database_url" {
  description = "Connection string of the environment's database, \"\" without one: what previewd's migrations.database_output names."
  # Unknown until the database is made, like url: previewd's parity check
  # does not compare it, and the name in it, derived from the environment's,
  # is no drift.
  value     = one(terraform_data.database[*].id) == null ? "" : local.database_url
  sensitive = true
}
