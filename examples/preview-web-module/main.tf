# A production-style module with nothing but built-ins: each instance is a
# preview-web server (cmd/preview-web) that local-exec starts in the
# background and stops on destroy, with a PostgreSQL database when given a
# server (database.tf). Its page shows environment, branch, commit and inputs.

terraform {
  required_version = ">= 1.4" # terraform_data
}

locals {
  state_dir = var.state_dir != "" ? var.state_dir : "${path.cwd}/.preview-web/${var.environment}"

  # Each environment prefers its own ports, derived from its name, so a
  # restart keeps its URL. When a port is taken, preview-web listens on any
  # free port instead and the url output reports the one it got.
  base_port = 20000 + parseint(substr(sha256(var.environment), 0, 6), 16) % 10000

  # What the page shows besides environment, branch and commit. No secrets.
  inputs = {
    instance_count          = var.instance_count
    database_engine_version = var.database_engine_version
    external_api_url        = var.external_api_url
    feature_flags           = var.feature_flags
  }
}

resource "terraform_data" "web" {
  count = var.instance_count

  # Any change to what the page shows restarts the server.
  triggers_replace = {
    environment = var.environment
    pr_number   = var.pr_number
    branch      = var.branch
    head_sha    = var.head_sha
    repo        = var.repo
    inputs      = jsonencode(local.inputs)
    bin         = var.web_server_bin
    database    = one(terraform_data.database[*].id) # a new one to migrate
  }

  # A destroy provisioner may only use self: keep here what stop needs.
  input = {
    bin = var.web_server_bin
    dir = "${local.state_dir}/${count.index}"

    # Not var.environment == "production" ? "db.r5.2xlarge" : "db.t3.medium":
    # previewd reports a value that follows the environment as drift. A variable
    # production sets, and previews declare a difference in, is how they differ.
    database_instance_class = var.database_instance_class
  }

  # No shell: local-exec runs the interpreter list with the command appended,
  # which here is the server's directory.
  provisioner "local-exec" {
    interpreter = [
      var.web_server_bin, "start",
      "-port=${local.base_port + count.index}",
      "-environment=${var.environment}",
      "-branch=${var.branch}",
      "-commit=${var.head_sha}",
      "-repo=${var.repo}",
      "-pr=${var.pr_number}",
      "-inputs=${jsonencode(local.inputs)}",
    ]
    command = self.input.dir

    # The database's connection string holds a password: in the server's
    # environment, never on its command line (Terraform prints that, and ps
    # shows it). Terraform prints no provisioner's environment and
    # preview-web never prints the string; left marked sensitive, it would
    # make Terraform hide all of start's output.
    environment = local.database ? { DATABASE_URL = nonsensitive(local.database_url) } : {}
  }

  provisioner "local-exec" {
    when        = destroy
    interpreter = [self.input.bin, "stop"]
    command     = self.input.dir
  }
}
