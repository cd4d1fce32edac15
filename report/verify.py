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
        try:
            reference_config = json.loads(candidate.read_text()).get("config", {})
        except (OSError, ValueError, AttributeError):  # a damaged reference matches nothing; read_reference says why
            continue
        keys = ("dataset", "model", "epochs", "optimizer", "learning_rate", "batch_size", "seed",
                "validation_split", "fine_tune_epochs", "augmentation_epochs")
        if all(reference_config.get(k) == results.get("config", {}).get(k) for k in keys):
            return candidate
    raise UserError("no reference result matches this run's config; reference results exist for the presets "
                    f"({', '.join(p.stem for p in sorted(reference_dir.glob('*.json')))}), or pass --reference FILE")


def read_reference(path):
    """A reference results file, whole, or UserError naming what is wrong with it."""
    from core import results as results_file

    try:
        reference = results_file.read_json(path)
    except (OSError, ValueError) as error:
        raise UserError(f"cannot read the reference {path} ({type(error).__name__}: {error}): restore it "
                        "(`git checkout results/reference/`) or pass another --reference FILE") from None
    issues = results_file.problems(reference)
    if issues:
        raise UserError(f"the reference {path} is not a results file ({'; '.join(issues)}): pass another --reference FILE")
    return reference


def compare_with_reference(results, reference, tolerance=TOLERANCE):
    """Rows (check, ok, detail) comparing a run with a reference result. A file without data hashes
    fails that check, saying so."""
    files, expected = results["dataset"].get("files"), reference["dataset"].get("files")
    if not files or not expected:
        which = " and ".join(name for name, value in (("the run", files), ("the reference", expected)) if not value)
        data_row = ("data hashes", False, f"{which} recorded no data file hashes: nothing to compare")
    else:
        data_row = ("data hashes", files == expected, "same data files" if files == expected else "different data files")
    rows = [data_row,
            ("parameters", results["model"].get("params") is not None and results["model"].get("params") == reference["model"].get("params"),
             f"{_count(results['model'].get('params'))} vs {_count(reference['model'].get('params'))}")]
    difference = results["test"]["accuracy"] - reference["test"]["accuracy"]
    rows.append(("test accuracy", abs(difference) <= tolerance,
                 f"{results['test']['accuracy']:.4f} vs {reference['test']['accuracy']:.4f} "
                 f"(difference {difference:+.4f}, tolerance {tolerance})"))
    same = results["weights_sha256"] == reference["weights_sha256"]  # both checked by the schema
    rows.append(("weights hash (info)", True, "identical to the reference" if same else
                 "differs from the reference (expected across machines or versions)"))
    return rows


def _count(value):
    return f"{value:,}" if isinstance(value, int) else "not recorded"
