"""The reports' pages: the query, the charts and ``/reports`` (+ ``.csv``)."""
