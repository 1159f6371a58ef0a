# A module whose destroy fails twice, then succeeds: the counter lives in
# the environment's working directory, which survives between runs.
variable "environment" {
  type = string
}

resource "terraform_data" "app" {
  input = var.environment

  provisioner "local-exec" {
    when    = destroy
    command = "n=$(cat destroy-attempts 2>/dev/null || echo 0); n=$((n+1)); echo $n > destroy-attempts; if [ $n -lt 3 ]; then echo \"destroy attempt $n: permission denied\" >&2; exit 1; fi"
  }
}

output "url" {
  value = "https://${var.environment}.preview.test/"
}
