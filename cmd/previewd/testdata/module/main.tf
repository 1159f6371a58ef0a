# A minimal production-style module for end-to-end tests: one built-in
# resource that changes with every head, and the URL output previewd reads.
variable "environment" {
  type = string
}

variable "head_sha" {
  type    = string
  default = ""
}

variable "pr_number" {
  type    = number
  default = 0
}

variable "replicas" {
  type    = number
  default = 3
}

resource "terraform_data" "app" {
  input = {
    environment = var.environment
    sha         = var.head_sha
    replicas    = var.replicas
  }

  provisioner "local-exec" {
    command = "echo deploying ${var.environment} at ${var.head_sha} with ${var.replicas} replicas"
  }
}

output "url" {
  value = "https://${var.environment}.preview.test/?sha=${terraform_data.app.output.sha}&pr=${var.pr_number}"
}
