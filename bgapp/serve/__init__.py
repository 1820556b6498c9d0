"""``python -m bgapp serve``: the HTTP API (FastAPI on uvicorn) over the one pipeline.

- ``config``   the server's settings (``ServeConfig``), passed to uvicorn's worker processes as JSON
- ``guard``    the URL guard: only public http(s) addresses, checked at every hop, bounded in size and time
- ``limits``   the admission counter that answers 429 instead of queueing without bound
- ``removebg`` remove.bg's request fields mapped onto bgapp's export and settings (pure functions)
- ``app``      the FastAPI app and the ASGI gate in front of it (key, admission, body size)

Only this package imports FastAPI; the CLI loads it when ``serve`` runs, the core never does.
"""
