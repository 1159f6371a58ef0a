token = "sk_live_do_not_leak" + var.x
