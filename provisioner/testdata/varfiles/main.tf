variable "environment" {
  type = string
}

variable "a" {
  type = string
}

variable "b" {
  type = string
}

variable "c" {
  type = string
}

variable "count_of" {
  type = number
}

output "url" {
  value = "http://${var.environment}.test/"
}

output "values" {
  value = "environment=${var.environment} a=${var.a} b=${var.b} c=${var.c} count_of=${var.count_of}"
}
