# A module with a real provider (hashicorp/time), installed from the
# filesystem mirror `make test` builds. Production's lock file is written by
# the test, since the provider's hash is that of this machine's build.
terraform {
  required_providers {
    time = {
      source  = "hashicorp/time"
      version = "0.14.2"
    }
  }
}

variable "environment" {
  type = string
}

variable "head_sha" {
  type    = string
  default = ""
}

resource "time_static" "deployed" {
  triggers = {
    environment = var.environment
    head_sha    = var.head_sha
  }
}

output "url" {
  value = "http://${var.environment}.preview.test/${time_static.deployed.unix}"
}
