instance_count          = 3
database_engine_version = "15.4"
feature_flags = {
  new_checkout = false
}
