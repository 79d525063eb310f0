"""call_interactive webhooks: the request (`request`), the reply's verbs (`verbs`, `reply`),
what a request came to (`outcome`), and the daemon's HTTP client (`client`, the only
part that imports gevent or urllib3; import it by name)."""
