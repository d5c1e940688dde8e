"""ferry's sandbox: a two-account AWS stand-in on one machine, built on moto.

Written from AWS's documented formats and never by calling ferry-core, so that it can catch
ferry's mistakes.
"""
