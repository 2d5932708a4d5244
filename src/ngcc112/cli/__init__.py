"""``ngcc112``: the command line (:mod:`.main`).

One subcommand per job; exit codes a sysadmin can script (:mod:`.exits`).
"""
