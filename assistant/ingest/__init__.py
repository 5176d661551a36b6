"""Ingest: files become checked, cleaned chunks; corpus front matter becomes the decision catalogue."""
