"""Ingest: files become checked, cleaned chunks (parse, redact, flag, chunk), and the
corpus front matter becomes the decision catalogue."""
