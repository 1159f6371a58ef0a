variable "environment" {
  type = string
}

resource "terraform_data" "app" {
  input = var.environment
}

output "url" {
  value = "http://${var.environment}.test/"
}
