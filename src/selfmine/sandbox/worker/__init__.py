"""The fork server that runs inside the sandbox. Standard library only: it is started as a script.

For each request the worker forks two children that share nothing but a socket:

- the *program* process runs the model's code and nothing else. It reads the code straight from the
  worker's stdin, drops every capability, and then only answers calls ("run f on these arguments") with
  the value, encoded as plain data. It never sees the tests, the expected values, the nonce or the
  reporting pipe, so nothing it does can produce a pass.
- the *tests* process never runs model code. It reads the tests (and the nonce) straight from stdin, makes
  itself non-dumpable, and runs each assert with the program's functions replaced by proxies that call
  across the socket. Comparisons happen here, on decoded values, and only this process reports outcomes.

The worker itself never holds code, tests or outcomes in ordinary Python objects: payloads go from the
kernel pipe into the child that needs them, and the children's reports pass through one preallocated
buffer that is zeroed after each reply, so a later program forked from the worker finds nothing in its
inherited memory.

Protocol, host -> worker: 8 ASCII digits, a JSON header, the code bytes, the tests bytes (JSON).
Worker -> host: 8 ASCII digits, a JSON header, the tests process's event records (each 8 ASCII digits
and a JSON object), the output bytes.

The worker is this package. It reaches the sandbox as one `python -s -P -c` script (`pool.worker_script`):
the modules below, compressed, each run in that order as a module of the package `selfmine_worker`, so
each imports only the ones before it; the last starts the fork server.
"""

MODULES = (
    "confine",
    "errors",
    "wire",
    "objects",
    "stdlib",
    "encode",
    "digest",
    "decode",
    "raised",
    "program",
    "tests",
    "server",
)
