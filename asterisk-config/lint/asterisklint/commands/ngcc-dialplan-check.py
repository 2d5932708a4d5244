"""
asterisklint's dialplan-check, taught two dialplan functions it does not know.
Takes 'extensions.conf' as argument.

asterisklint 0.4.3 knows the functions of Asterisk 13. The ngcc112 dialplan uses
two it lacks, both real in Asterisk 20/22:
  IFMODULE        funcs/func_module.c: is a module loaded (used to skip
                  res_geolocation / app_queue steps when they are missing)
  GEOLOC_PROFILE  res_geolocation (Asterisk 19+ and 18.x): the caller's location
Every other function, application and check stays as asterisklint ships it, so
a misspelt function is still an error.

This is asterisklint's documented extension point: a command module found in
an 'asterisklint/commands' folder on the Python path. Run it as
    PYTHONPATH=asterisk-config/lint asterisklint ngcc-dialplan-check \
        asterisk-config/extensions.conf
"""
from asterisklint.func.base import FuncBase
from asterisklint.main import load_command
from asterisklint.varfun import FuncLoader


class IFMODULE(FuncBase):
    pass


class GEOLOC_PROFILE(FuncBase):
    pass


def main(args, envs):
    loader = FuncLoader()
    for func in (IFMODULE(), GEOLOC_PROFILE()):
        loader.register(func)
    return load_command('dialplan-check').main(args, envs)
