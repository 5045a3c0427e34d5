"""The sans-I/O protocol core: JSON text in -> events out; client events in -> JSON text out.

Standard library only. Nothing here touches a socket, a thread or a clock it was not given.
"""
