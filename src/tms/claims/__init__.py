"""The paper's claims as named checks (:mod:`.base`), one module per experiment family: :mod:`.intro`,
:mod:`.section2`, :mod:`.phase`. Each check reads derived tables only."""

from .base import (
           Claim,
           ClaimResult,
           Measurement,
           format_claims_table,
           read_claims,
           summary_line,
           write_claims,
)

__all__ = ["Claim", "ClaimResult", "Measurement", "format_claims_table", "read_claims", "summary_line",
           "write_claims"]
