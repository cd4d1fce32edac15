"""`portability verify`: a run against the committed reference result of its config."""

import json
import pathlib

from core.errors import UserError

TOLERANCE = 0.01


def find_reference(results, reference_dir, reference=None):
    """The reference results file for a run: `reference` when given, else the preset's, else the one
    whose config decides the same weights."""
    if reference:
        return pathlib.Path(reference)
    preset = results.get("config", {}).get("preset")
    if preset and (reference_dir / f"{preset}.json").is_file():
        return reference_dir / f"{preset}.json"
    for candidate in sorted(reference_dir.glob("*.json")):
        reference_config = json.loads(candidate.read_text()).get("config", {})
        keys = ("dataset", "model", "epochs", "optimizer", "learning_rate", "batch_size", "seed",
                "validation_split", "fine_tune_epochs", "augmentation_epochs")
        if all(reference_config.get(k) == results.get("config", {}).get(k) for k in keys):
            return candidate
    raise UserError("no reference result matches this run's config; reference results exist for the presets "
                    f"({', '.join(p.stem for p in sorted(reference_dir.glob('*.json')))}), or pass --reference FILE")


def compare_with_reference(results, reference, tolerance=TOLERANCE):
    """Rows (check, ok, detail) comparing a run with a reference result."""
    rows = [("data hashes", results["dataset"]["files"] == reference["dataset"]["files"],
             "same data files" if results["dataset"]["files"] == reference["dataset"]["files"] else "different data files"),
            ("parameters", results["model"]["params"] == reference["model"]["params"],
             f"{results['model']['params']:,} vs {reference['model']['params']:,}")]
    difference = results["test"]["accuracy"] - reference["test"]["accuracy"]
    rows.append(("test accuracy", abs(difference) <= tolerance,
                 f"{results['test']['accuracy']:.4f} vs {reference['test']['accuracy']:.4f} "
                 f"(difference {difference:+.4f}, tolerance {tolerance})"))
    same = results["weights_sha256"] == reference["weights_sha256"]
    rows.append(("weights hash (info)", True, "identical to the reference" if same else
                 "differs from the reference (expected across machines or versions)"))
    return rows
