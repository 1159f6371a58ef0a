variable "environment" {
  type = string
}

resource "terraform_data" "app" {
  provisioner "local-exec" {
    command = "echo 'database migration failed-on-purpose' >&2; exit 3"
  }
}

output "url" {
  value = "http://${var.environment}.test/"
}
