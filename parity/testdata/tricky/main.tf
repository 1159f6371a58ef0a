# Ways a value can follow the environment that parity must not miss: each
# resource hides a conditional on var.environment behind something else.
variable "environment" {
  type = string
}

variable "pr_number" {
  type    = number
  default = 0
}

variable "app_port" {
  type    = number
  default = 443
}

variable "db_class" {
  type    = string
  default = "large"
}

# A version next to a pull request's number.
resource "terraform_data" "cache" {
  input = var.environment == "production" ? "8.0" : "8.4"
}

# A written block beside a dynamic one.
resource "terraform_data" "firewall" {
  input = {
    port = var.app_port
  }

  ingress {
    cidr = "port-${var.app_port}"
  }

  dynamic "ingress" {
    for_each = [var.environment == "production" ? "10.0.0.0/8" : "0.0.0.0/0"]
    content {
      cidr = ingress.value
    }
  }
}

# each.value of a module call.
module "db" {
  source         = "./m"
  for_each       = { main = var.environment == "production" ? "15.4" : "13.11" }
  engine_version = each.value
  instance_class = var.db_class
}

# A for_each keyed by a declared variable.
resource "terraform_data" "sized" {
  for_each = toset([var.db_class])
  input = {
    size   = each.value
    backup = var.environment == "production" ? "daily" : "never"
  }
}

# A list of another length whose elements hold values known after apply.
resource "terraform_data" "disks" {
  input = var.environment == "production" ? [{ size = 500 }, { size = 500 }] : [{ size = 20 }]
}
