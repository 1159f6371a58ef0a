# A module holding a secret: a sensitive variable, a resource keeping it,
# and a sensitive output built from it. Nothing previewd writes may show it.
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
}

output "url" {
  value = "http://${var.environment}.preview.test/"
}

output "db_name" {
  value = terraform_data.db.output.name
}

output "db_password" {
  value     = "canary-${var.db_password}"
  sensitive = true
}
