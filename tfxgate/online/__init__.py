"""The online service `tfxgate serve`: the ASGI application, its routes and limits (`serve.py`;
a request read and checked at the boundary in `request.py`; the process on uvicorn, its signals
and exit status in `server.py`), what it holds loaded and its metrics (`service.py`), the sliding
windows of instances (`windows.py`), each batch and window judged in a forked child under a
deadline (`judging.py`), and the thin client of `validate --server` (`client.py`: the standard
library's HTTP client only, so it loads no TensorFlow).

May import: common, validation.
"""
