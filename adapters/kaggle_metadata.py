"""Kaggle's kernel-metadata.json: the slug Kaggle derives from a title, and the checks `kaggle kernels
push` makes, done here before anything is sent."""

import re

from core.errors import UsageError


def slugify(title):
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def validate_metadata(values):
    """The checks `kaggle kernels push` makes, done before anything is sent."""
    if len(values["title"]) < 5:
        raise UsageError("the Kaggle title must be at least 5 characters")
    owner_slug = values["id"].split("/")
    if len(owner_slug) != 2 or not all(owner_slug):
        raise UsageError(f"the Kaggle kernel id {values['id']!r} must be owner/slug")
    if owner_slug[1] != slugify(values["title"]):
        raise UsageError(f"the Kaggle kernel slug {owner_slug[1]!r} does not match the title "
                         f"{values['title']!r} (its slug is {slugify(values['title'])!r})")
    if not re.fullmatch(r"[a-z0-9-]{5,50}", owner_slug[1]):
        raise UsageError(f"the Kaggle kernel slug {owner_slug[1]!r} must be 5-50 lowercase letters, digits or dashes")
    for source in values["dataset_sources"]:
        if not re.fullmatch(r"[\w.-]+/[\w.-]+", source):
            raise UsageError(f"the Kaggle data set {source!r} must be owner/dataset-slug")
    if values["language"] != "python" or values["kernel_type"] not in ("script", "notebook"):
        raise UsageError("the Kaggle kernel must be a python script or notebook")
    for key in ("is_private", "enable_gpu", "enable_tpu", "enable_internet"):
        if not isinstance(values[key], bool):
            raise UsageError(f"the Kaggle metadata field {key} must be true or false")
