"""ivrflow: a live IVR runtime for FreeSWITCH's outbound Event Socket."""

__version__ = "0.1.0"
