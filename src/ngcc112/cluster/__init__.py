"""Several ``ngcc112 run`` on one PostgreSQL: one leader per site, hot standbys, events shared.

Built only on what PostgreSQL already guarantees: an advisory lock held on a dedicated
connection decides the leader of a site; LISTEN/NOTIFY carries the panel's events to every
node. With ``[cluster] enabled = false`` (the default, and the only choice on SQLite) none of
this runs.
"""
