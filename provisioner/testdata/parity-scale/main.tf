# A production-style module for parity plans: the web tier scales with
# instance_count (a declared difference, reason scale), a cache module
# follows it through a module call, and a debug resource exists only
# outside production, which no declaration explains.
variable "environment" {
  type = string
}

variable "pr_number" {
  type    = number
  default = 0
}

variable "instance_count" {
  type    = number
  default = 1
}

variable "database_engine_version" {
  type = string
}

variable "database_password" {
  type      = string
  default   = ""
  sensitive = true
}

resource "terraform_data" "web" {
  count = var.instance_count
  input = {
    environment = var.environment
    index       = count.index
    database    = var.database_engine_version
  }
}

resource "terraform_data" "debug" {
  count = var.environment == "production" ? 0 : 1
  input = var.environment
}

module "cache" {
  source = "./cache"
  nodes  = var.instance_count
}

output "url" {
  value = "http://${var.environment}.preview.test/"
}
