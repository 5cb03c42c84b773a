"""Storage: the interfaces (:mod:`.ports`) and their backends (:mod:`.sqlite`).

Services and the hub use :mod:`.ports` only; the composition root opens a backend with
:func:`agentmail_server.storage.backends.open_storage`.
"""
