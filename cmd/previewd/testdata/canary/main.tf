# A module holding secrets, for the test that looks for them in everything
# previewd writes: a sensitive variable kept in a resource, a sensitive
# output built from it, and a harmless output beside it.
variable "environment" {
  type = string
}

variable "db_password" {
  type      = string
  sensitive = true
}

resource "terraform_data" "db" {
  input = {
    name     = "db-${var.environment}"
    password = var.db_password
  }

  provisioner "local-exec" {
    command = "echo created db-${var.environment}"
  }
}

output "url" {
  value = "https://${var.environment}.preview.test/"
}

output "db_name" {
  value = terraform_data.db.output.name
}

output "db_password" {
  value     = "canary-${var.db_password}"
  sensitive = true
}
