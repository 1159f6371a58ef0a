# A module whose values differ between production and a preview in every
# way parity must tell apart: by the environment's name only, by a
# declared variable, by a conditional on the environment (directly, through
# a local, through a module), and by values known only after apply.
variable "environment" {
  type = string
}

variable "pr_number" {
  type    = number
  default = 0
}

variable "instance_class" {
  type    = string
  default = "db.r5.2xlarge"
}

variable "db_password" {
  type      = string
  sensitive = true
}

variable "regions" {
  type    = map(string)
  default = { eu = "eu-west-1" }
}

locals {
  engine = var.environment == "production" ? "15.4" : "13.11"
}

resource "terraform_data" "database" {
  input = {
    name           = "shop-${var.environment}"
    engine_version = var.environment == "production" ? "15.4" : "13.11"
    instance_class = var.instance_class
    via_local      = local.engine
    password       = var.db_password
    pr             = var.pr_number
  }
}

resource "terraform_data" "regional" {
  for_each = var.regions
  input = {
    region = each.value
    tier   = var.environment == "production" ? "gold" : "bronze"
  }
}

module "cache" {
  source = "./modules/cache"
  size   = var.instance_class
  env    = var.environment
}

output "url" {
  value = "https://${var.environment}.example.com/"
}

output "cache_engine" {
  value = module.cache.engine
}
