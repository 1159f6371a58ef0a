variable "size" {
  type = string
}

variable "env" {
  type = string
}

resource "terraform_data" "node" {
  input = {
    size   = var.size
    engine = var.env == "production" ? "7.2" : "6.2"
  }
}

output "engine" {
  value = terraform_data.node.input.engine
}
