"""kubeplan's chat UI: ``streamlit run app.py`` (``make app`` ingests the bundled corpus first).

Only the entry point: the UI lives in ``assistant/ui/`` (pages, components, state, and the
pure helpers in ``assistant/ui/logic.py``). ``streamlit run`` imports this file as the
server (an ``st.App`` whose start-up loads the model and the store once, and which answers
``GET /kubeplan/ready``); every session then runs it as ``__main__`` to draw the page.
"""

import streamlit as st

if __name__ == "__main__":
    from assistant.ui.main import run

    run()
else:
    from assistant.ui.server import ROUTES, lifespan

    app = st.App(__file__, lifespan=lifespan, routes=ROUTES)
