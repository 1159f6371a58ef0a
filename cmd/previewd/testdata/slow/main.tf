# A module whose apply and destroy take a known time, for fault injection
# and overhead measurements. SLEEP_SECONDS comes from var.sleep.
variable "environment" {
  type = string
}

variable "head_sha" {
  type = string
}

variable "sleep" {
  type    = number
  default = 3
}

resource "terraform_data" "app" {
  input = {
    environment = var.environment
    sha         = var.head_sha
    sleep       = var.sleep
  }

  provisioner "local-exec" {
    command = "sleep ${var.sleep}"
  }

  provisioner "local-exec" {
    when    = destroy
    command = "sleep ${self.input.sleep}"
  }
}

output "url" {
  value = "https://${var.environment}.preview.test/${terraform_data.app.output.sha}"
}
