# The PostgreSQL 13-versus-15 story: a module that quietly gives previews
# another engine than production. Parity must see it in the plan's values.
variable "environment" {
  type = string
}

variable "head_sha" {
  type    = string
  default = ""
}

resource "terraform_data" "database" {
  input = {
    name           = "shop-${var.environment}"
    engine_version = var.environment == "production" ? "15.4" : "13.11"
  }
}

output "url" {
  value = "https://${var.environment}.preview.test/?sha=${var.head_sha}"
}
