variable "name" {
  type    = string
  default = "production"
}

resource "terraform_data" "app" {
  input = var.name
}

output "url" {
  value = "http://${var.name}.test/"
}
