# Each create appends a line to a file under path.cwd, so a test can count
# how often Terraform created the resource.
variable "environment" {
  type = string
}

resource "terraform_data" "app" {
  input = var.environment

  provisioner "local-exec" {
    command = "echo created >> creations.txt"
  }
}

output "url" {
  value = "https://${var.environment}.preview.test/"
}
