"""Reports: pictures of scaling for people, drawn from plain values (HTML and SVG text).

What belongs here: renderers shared by `ebb simulate -o html` and the operator's pages (`charts`).

What must not: I/O of any kind — a renderer takes values and returns text; the command line and the
operator's HTTP server decide where it goes. Imports only the pure core.
"""
