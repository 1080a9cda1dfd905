"""shipdeck.yaml: the schema (``schema``), its errors with file:line:col (``errors``),
the YAML reading that keeps positions and refuses surprises (``yamlpos``, ``yamlsafe``)
and the ``{field}`` templates its commands use (``templates``)."""
