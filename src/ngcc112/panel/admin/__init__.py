"""The admin's pages: users and agencies (:mod:`.views`), their checks and use cases."""
