variable "nodes" {
  type = number
}

resource "terraform_data" "node" {
  count = var.nodes
  input = count.index
}
