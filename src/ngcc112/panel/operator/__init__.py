"""The operator's desk: its pages (:mod:`.views`), the calls ringing and answered at each desk
(:mod:`.calls`) and the intake form's values."""
