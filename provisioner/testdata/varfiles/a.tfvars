environment = "production"
a           = "file-a"
b           = "file-a"
count_of    = 3
