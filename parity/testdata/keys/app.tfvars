app_config = {
  LOG_LEVEL = "info"
  SECRET    = "sk_live_do_not_leak"
}
region = "eu-west-1"
