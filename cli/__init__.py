"""The ``platscan`` command line: the one layer that knows both scanning (``scanner``) and rendering
(``reports``). Neither of those imports it."""
