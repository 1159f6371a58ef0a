# JSON documents in attributes, as jsonencode writes them: each key that
# differs between production and a preview is a finding of its own, located
# at the expression making it and declared or not by what that expression
# follows.
variable "environment" {
  type = string
}

variable "pr_number" {
  type    = number
  default = 0
}

# Previews declare a difference: scale.
variable "max_items" {
  type    = number
  default = 100
}

locals {
  limits = {
    max_items = var.max_items
    timeout   = 30
  }
}

resource "terraform_data" "app" {
  input = {
    settings = jsonencode({
      service = "shop-${var.environment}"
      feature_flags = {
        new_checkout = var.environment == "production" ? false : true
        fast_cart    = true
      }
      limits = local.limits
      pages  = [var.max_items, var.environment == "production" ? 50 : 10]
    })
  }
}

# merge makes keys parity cannot tell apart: each difference is located at
# the jsonencode and follows every variable there, the environment's too.
resource "terraform_data" "merged" {
  input = jsonencode(merge(local.limits, {
    tier = var.environment == "production" ? "gold" : "bronze"
  }))
}

output "settings" {
  value = jsonencode({
    max_items = var.max_items
    debug     = var.environment != "production"
  })
}
