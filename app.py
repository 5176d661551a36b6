"""kubeplan's chat UI: ``streamlit run app.py`` (``make app`` ingests the bundled corpus first).

Only the entry point: the UI lives in ``assistant/ui/`` (pages, components, state, and the
pure helpers in ``assistant/ui/logic.py``).
"""

from assistant.ui.main import run

run()
