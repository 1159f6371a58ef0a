# A preview whose database is a PostgreSQL database given by
# var.database_url: what the migrations watch reads from the state.
variable "environment" {
  type = string
}

variable "database_url" {
  type      = string
  sensitive = true
}

output "url" {
  value = "https://${var.environment}.preview.test/"
}

output "database_url" {
  value     = var.database_url
  sensitive = true
}

resource "terraform_data" "database" {
  input = var.environment
}
