"""The online service `tfxgate serve`: the ASGI application, its routes, limits and signals
(`serve.py`), what it holds loaded, its windows and metrics (`service.py`), each batch and window
judged in a forked child under a deadline (`judging.py`), and the thin client of
`validate --server` (`client.py`: the standard library's HTTP client only, so it loads no TensorFlow).

May import: common, validation.
"""
