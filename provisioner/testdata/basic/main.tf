# Every per-pull-request variable, an output of each kind, a dump of the
# environment local-exec sees, and a runtime file that must survive from
# apply to destroy.
variable "environment" {
  type = string
}

variable "pr_number" {
  type    = number
  default = 0
}

variable "branch" {
  type    = string
  default = ""
}

variable "head_sha" {
  type    = string
  default = ""
}

variable "repo" {
  type    = string
  default = ""
}

resource "terraform_data" "app" {
  triggers_replace = [var.head_sha]

  input = {
    marker = "${path.cwd}/runtime/${var.environment}"
  }

  provisioner "local-exec" {
    command = "env > env.txt && mkdir -p runtime && echo \"$SHA\" > \"${self.input.marker}\""
    environment = {
      SHA = var.head_sha
    }
  }

  provisioner "local-exec" {
    when    = destroy
    command = "test -f \"${self.input.marker}\" || { echo \"runtime file ${self.input.marker} is gone\" >&2; exit 1; }"
  }
}

output "url" {
  value = "http://${var.environment}.preview.test/${var.head_sha}"
}

output "pr_number" {
  value = var.pr_number
}

output "vars" {
  value = {
    branch = var.branch
    repo   = var.repo
  }
}

output "password" {
  value     = "hunter2"
  sensitive = true
}
