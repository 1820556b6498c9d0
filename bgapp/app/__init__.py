"""The Streamlit studio: one module per page, ``common`` for what they share. ``streamlit_app.py``
only wires the pages; all image work is the core's, the same the command line runs."""
