instance_count          = 3
database_engine_version = "15.4"
