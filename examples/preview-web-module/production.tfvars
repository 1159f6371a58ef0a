instance_count          = 3
database_engine_version = "15.4"
database_instance_class = "db.r5.2xlarge"
external_api_url        = "https://api.payments.example.com"
feature_flags = {
  new_checkout = false
}
