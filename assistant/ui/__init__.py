"""kubeplan's chat UI (Streamlit): ``streamlit run app.py``.

Streamlit is imported only inside this package (and by ``app.py``, which calls
``assistant.ui.main.run``). ``logic`` holds the pure helpers, testable without Streamlit;
``state`` the session state; ``components`` the rendering of answers; ``sidebar`` the
settings and the profile form; ``pages`` the three pages.
"""
