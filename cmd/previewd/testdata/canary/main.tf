# A module holding secrets, for the test that looks for them in everything
# previewd writes: a sensitive variable kept in a resource, a sensitive
# output built from it, and a harmless output beside it; and plain variables,
# whose values run logs must show in clear.
variable "environment" {
  type = string
}

variable "db_password" {
  type      = string
  sensitive = true
}

variable "external_api_url" {
  type = string
}

variable "region" {
  type    = string
  default = "eu-central-1"
}

resource "terraform_data" "db" {
  input = {
    name     = "db-${var.environment}"
    password = var.db_password
    api_url  = var.external_api_url
    region   = var.region
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
