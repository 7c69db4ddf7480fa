"""The SAE-1..3 sections end to end in their quick form (seconds): tables, figures, claims measured, and a rerun
that trains nothing again."""

from __future__ import annotations

import math

from tms.pipeline import redraw
from tms.reproduce import reproduce
from tms.sections.sae_l1.analysis import SAES
from tms.sections.sae_recovery.analysis import MAP, SAE1
from tms.analysis.folder import ExperimentFolder


def test_sae_sections_quick(tmp_path):
    claims = reproduce(["sae-recovery", "sae-l1"], tmp_path, quick=True, report=False)
    ids = {(c.experiment, c.id) for c in claims}
    assert ids == {("sae-recovery", "SAE-1"), ("sae-recovery", "SAE-1b"), ("sae-recovery", "SAE-2"),
                   ("sae-l1", "SAE-3"), ("sae-l1", "SAE-3b"), ("sae-l1", "SAE-3c"), ("sae-l1", "SAE-3d")}
    rec, l1 = ExperimentFolder(tmp_path / "sae-recovery"), ExperimentFolder(tmp_path / "sae-l1")
    assert {r["family"] for r in rec.read(MAP)} == {"topk", "batchtopk", "jumprelu", "relu", "matryoshka"}
    assert len(rec.read(SAE1)) == 2 and len(l1.read(SAES)) == 11
    for name in ("sae_recovery_map", "sae1_cosines"):
        assert (tmp_path / "sae-recovery" / "figures" / f"{name}.png").is_file()
    for name in ("sae_l1_sweep", "sae_l1_shrinkage"):
        assert (tmp_path / "sae-l1" / "figures" / f"{name}.png").is_file()
    assert all(math.isfinite(c.measured) for c in claims if c.id != "SAE-2")  # one model: no rank correlation
    folders = sorted((tmp_path / "sae-recovery" / "saes").iterdir()) + [tmp_path / "sae-l1" / "saes"]
    stamps = [(f / "saes.json").stat().st_mtime_ns for f in folders]
    reproduce(["sae-recovery", "sae-l1"], tmp_path, quick=True, report=False)
    assert [(f / "saes.json").stat().st_mtime_ns for f in folders] == stamps  # complete: not trained again
    # tms plot on the results folder draws both again, as quick runs (reproduce.json): nothing trains at full size
    for png in tmp_path.glob("sae-*/figures/*"):
        png.unlink()
    drawn = {p.name for p in redraw(tmp_path)}
    assert {"sae_recovery_map.png", "sae1_cosines.png", "sae_l1_sweep.png", "sae_l1_shrinkage.png"} <= drawn
    assert [(f / "saes.json").stat().st_mtime_ns for f in folders] == stamps
