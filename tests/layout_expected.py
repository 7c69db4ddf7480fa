"""The files ``tms reproduce`` writes into a results folder (the same in quick and full mode): what
tests/test_reproduce.py and tests/test_paper_claims.py compare a results folder with."""

RUN = ("config.json", "instances.csv", "model.safetensors", "train_log.csv")
TIED = ("explorer.json", "features.csv", "models.csv")
EXPERIMENTS = {
    "intro": {"runs": ("",), "figures": ("intro_configurations", "intro_vectors"),
              "tables": TIED + ("intro_configurations.csv", "intro_geometry.csv")},
    "section2": {"runs": ("linear", "relu"), "figures": ("section2_linear", "section2_relu"),
                 "tables": TIED + ("linear_restarts.csv", "relu_restarts.csv")},
    "section2-large": {"runs": ("linear", "relu"), "figures": ("section2-large_linear", "section2-large_relu"),
                       "tables": TIED + ("linear_restarts.csv", "relu_restarts.csv")},
    "phase-2-1": {"runs": ("linear", "relu", "sweep"), "figures": ("loss_sweep", "phase_linear", "phase_relu"),
                  "tables": TIED + ("kink.csv", "phase.csv", "phase_models.csv")},
    "phase-3-2": {"runs": ("linear", "relu", "sweep"), "figures": ("loss_sweep", "phase_linear", "phase_relu"),
                  "tables": TIED + ("kink.csv", "phase.csv", "phase_models.csv")},
    "geometry": {"runs": ("",), "figures": ("geometry_dimensionality", "geometry_dims_per_feature",
                                           "geometry_polytopes"),
                 "tables": TIED + ("dimensionality.scatter.json", "geometry_features.csv", "geometry_groups.csv",
                                   "geometry_models.csv", "polytopes.csv")},
    "nonuniform": {"runs": ("",), "figures": ("nonuniform_embeddings", "nonuniform_losses"),
                   "tables": ("nonuniform_exact.csv", "nonuniform_exact_crossing.csv", "nonuniform_fits.csv",
                              "nonuniform_points.csv", "nonuniform_summary.csv")},
    "correlated": {"runs": ("anticorrelated", "collapse", "pairs", "ten", "three", "three-independent"),
                   "figures": ("correlated_collapse", "correlated_embeddings", "correlated_gram"),
                   "tables": TIED + ("correlated_models.csv", "correlated_points.csv")},
    "dynamics": {"runs": ("octahedron", "uniform"), "snapshots": True,
                 "figures": ("dynamics_dimensionality", "dynamics_octahedron"),
                 "tables": TIED + ("dynamics.scatter.json", "dynamics_features.csv", "dynamics_regimes.csv",
                                   "dynamics_steps.csv", "dynamics_summary.csv", "dynamics_trajectories.csv")},
    "adversarial": {"runs": (), "figures": ("adversarial_vulnerability",),
                    "tables": ("adversarial_models.csv", "adversarial_points.csv")},
    "privileged": {"runs": ("",), "figures": ("privileged_neurons",),
                   "tables": TIED + ("privileged_models.csv", "privileged_neurons.csv", "privileged_points.csv")},
    "computation": {"runs": ("n100", "n3"), "figures": ("computation_motif", "computation_neurons",
                                                        "computation_pairs", "computation_polysemantic"),
                    "tables": ("computation_motifs.csv", "computation_neurons.csv", "computation_pairs.csv",
                               "computation_points.csv")},
}
TOP = ("REPORT.md", "claims.json", "report.html", "reproduce.json")


def expected_files() -> list[str]:
    out = list(TOP)
    for name, spec in EXPERIMENTS.items():
        for run in spec["runs"]:
            files = RUN + (("snapshots.safetensors",) if spec.get("snapshots") else ())
            out += [f"{name}/{run}/{f}" if run else f"{name}/{f}" for f in files]
        out += [f"{name}/figures/{fig}.{ext}" for fig in spec["figures"] for ext in ("png", "svg")]
        out += [f"{name}/tables/{t}" for t in spec["tables"]]
    return sorted(out)


def files_in(folder) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
