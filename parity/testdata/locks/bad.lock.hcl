provider "registry.terraform.io/hashicorp/aws" {
  constraints = "~> 5.0"
}
