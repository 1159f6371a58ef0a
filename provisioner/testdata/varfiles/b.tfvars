b = "file-b"
c = "file-b"
