# A module whose apply will not stop when Terraform is interrupted: its
# local-exec leaves a child that ignores SIGINT and SIGTERM and holds the
# command's output open, so Terraform waits for it however it is asked to
# stop. Only killing Terraform's process group ends it. Each apply writes
# Terraform's pid and the child's into PID_DIR.
variable "environment" {
  type = string
}

variable "head_sha" {
  type = string
}

resource "terraform_data" "app" {
  input = var.head_sha

  provisioner "local-exec" {
    command = "echo $PPID > PID_DIR/terraform.pid; (trap '' INT TERM; exec sleep 600) & echo $! > PID_DIR/child.pid; wait"
  }
}

output "url" {
  value = "https://${var.environment}.preview.test/"
}
