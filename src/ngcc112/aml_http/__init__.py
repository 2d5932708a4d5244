"""The AML intake over HTTP: the endpoints (:mod:`.routes`), who may post and how much
(:mod:`.guard`), and the way every admitted message reaches the database (:mod:`.intake`)."""
