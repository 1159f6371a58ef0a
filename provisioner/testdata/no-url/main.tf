variable "environment" {
  type = string
}

output "address" {
  value = "http://${var.environment}.test/"
}
