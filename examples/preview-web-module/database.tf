# An optional PostgreSQL database per environment on var.database_server,
# for the application's migrations to run against before production runs
# them. Each is a copy of a template holding production's volume (made once
# per server, by the first create), because the founding incident of
# previewd is a migration that took milliseconds on staging's 200 rows and
# locked production's table for 47 minutes: only a database of production's
# size shows how long a migration locks its tables. preview-web db makes
# and drops it; the web servers migrate it as they start (main.tf).

locals {
  # Whether there is a database is no secret, though the server's
  # connection string is, and count cannot follow a sensitive value.
  database = nonsensitive(var.database_server != "")

  # A name PostgreSQL takes without quotes. The destroy provisioner below
  # writes the same expression, since it may only use self.
  database_name = "orders_${replace(var.environment, "-", "_")}"
  database_url  = "${var.database_server}/${local.database_name}"
}

resource "terraform_data" "database" {
  count = local.database ? 1 : 0

  # Another server or template is another database.
  triggers_replace = {
    server   = var.database_server
    template = var.database_template
  }

  # A destroy provisioner may only use self: keep here what drop needs. The
  # environment's name, not the database's: previewd's parity check takes a
  # value that differs from production's by the environment's name alone
  # for identity, and one derived from it otherwise for drift.
  input = {
    bin         = var.web_server_bin
    server      = var.database_server
    environment = var.environment
  }

  # The administrator's connection string goes in the environment, never
  # on the command line (Terraform prints that, and ps shows it). Terraform
  # prints no provisioner's environment and preview-web never prints the
  # string; left marked sensitive, it would make Terraform hide all of
  # preview-web's output, how long the copy took included.
  provisioner "local-exec" {
    interpreter = [
      self.input.bin, "db", "create",
      "-template=${var.database_template}",
      "-rows=${var.database_rows}",
      "-name",
    ]
    command     = local.database_name
    environment = { DATABASE_ADMIN_URL = nonsensitive("${self.input.server}/postgres") }
  }

  provisioner "local-exec" {
    when        = destroy
    interpreter = [self.input.bin, "db", "drop", "-name"]
    command     = "orders_${replace(self.input.environment, "-", "_")}"
    environment = { DATABASE_ADMIN_URL = nonsensitive("${self.input.server}/postgres") }
  }
}
