variable "engine_version" {
  type = string
}

variable "instance_class" {
  type = string
}

resource "terraform_data" "instance" {
  input = "${var.instance_class}/${var.engine_version}"
}
