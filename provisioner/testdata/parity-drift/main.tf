# A module whose local-exec writes a file the module then reads back
# through an output: editing that file behind Terraform's back is drift a
# refresh-only plan reports.
variable "environment" {
  type = string
}

resource "terraform_data" "app" {
  input = var.environment

  provisioner "local-exec" {
    command = "mkdir -p '${path.cwd}/run' && echo v1 > '${path.cwd}/run/config'"
  }
}

output "config" {
  # Depending on the id defers reading the file until after the provisioner
  # ran (Terraform 1.5 does not evaluate outputs again after apply).
  value = terraform_data.app.id == "" ? "" : fileexists("${path.cwd}/run/config") ? trimspace(file("${path.cwd}/run/config")) : ""
}

output "url" {
  value = "http://${var.environment}.preview.test/"
}
