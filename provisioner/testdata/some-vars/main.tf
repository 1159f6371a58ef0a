# Declares only some of the per-pull-request variables.
variable "environment" {
  type = string
}

variable "branch" {
  type = string
}

resource "terraform_data" "app" {
  input = "${var.environment} ${var.branch}"
}

output "url" {
  value = "http://${var.environment}.test/${var.branch}"
}
