"""The UI's pages: chat, knowledge base, feedback."""
