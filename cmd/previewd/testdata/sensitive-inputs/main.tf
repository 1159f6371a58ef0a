# A module whose inputs an environment's page hides or shows: sensitive
# variables of several types, plain ones, and plain ones whose values carry
# a secret.
variable "environment" {
  type = string
}

variable "credentials" {
  type      = map(string)
  sensitive = true
}

variable "api_tokens" {
  type      = list(string)
  sensitive = true
}

variable "database_url" {
  type = string
}

variable "fallback_tokens" {
  type = list(string)
}

variable "tags" {
  type = map(string)
}

variable "region" {
  type = string
}

variable "replicas" {
  type = number
}
