variable "environment" {
  description = "Name of the environment: \"production\", or a preview's name."
  type        = string
}

variable "pr_number" {
  description = "Pull request a preview was built for; 0 outside previews."
  type        = number
  default     = 0
}

variable "branch" {
  description = "Branch deployed."
  type        = string
  default     = ""
}

variable "head_sha" {
  description = "Commit deployed."
  type        = string
  default     = ""
}

variable "repo" {
  description = "Repository deployed (owner/name)."
  type        = string
  default     = ""
}

variable "instance_count" {
  description = "Web servers to run."
  type        = number
  default     = 1

  validation {
    condition     = var.instance_count >= 1 && var.instance_count == floor(var.instance_count)
    error_message = "instance_count must be a whole number of at least 1."
  }
}

variable "database_engine_version" {
  description = "Version of the database engine the application expects."
  type        = string
}

variable "database_instance_class" {
  description = "Size of the database the application runs against."
  type        = string
}

variable "external_api_url" {
  description = "Base URL of the payments API the application calls."
  type        = string
}

variable "feature_flags" {
  description = "Feature flags, on or off."
  type        = map(bool)
  default     = {}
}

variable "web_server_bin" {
  description = "The preview-web binary: a path, or a name looked up in PATH."
  type        = string
  default     = "preview-web"
}

variable "state_dir" {
  description = "Directory for the servers' pid, url and log files; default .preview-web/<environment> under the working directory."
  type        = string
  default     = ""
}

variable "database_server" {
  description = "A PostgreSQL server to give the environment a database on: a connection string without the database (\"postgres://user:password@host:5432\"), for a user that may create databases. \"\" for no database."
  type        = string
  sensitive   = true
  default     = ""
}

variable "database_template" {
  description = "The database each environment's is copied from, made on the server when missing."
  type        = string
  default     = "orders_template"
}

variable "database_rows" {
  description = "Orders in the template, when it is made: production's volume, so a migration locks its tables as long as it would in production."
  type        = number
  default     = 4000000
}
