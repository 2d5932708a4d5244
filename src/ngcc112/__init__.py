"""ngcc112: a 112 emergency call center on Asterisk."""
