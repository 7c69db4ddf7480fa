"""The paper's sections, one package each (found like any section: the ``tms.sections`` entry points)."""
