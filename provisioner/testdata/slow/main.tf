variable "environment" {
  type = string
}

resource "terraform_data" "app" {
  provisioner "local-exec" {
    command = "echo started-sleeping; exec sleep 30"
  }
}

output "url" {
  value = "http://${var.environment}.test/"
}
