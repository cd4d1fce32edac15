"""Builds an OpenML cache folder the real `openml` client reads without the network: task.xml,
datasplits.arff, the dataset's description.xml, features.xml and parquet data."""

import numpy as np
import pandas

HEADER = '<?xml version="1.0" encoding="UTF-8"?>\n'


def cache_base(root, server=None):
    """Where the client keeps its cache for `server` (the folder depends on the server's host)."""
    import pathlib

    import openml

    saved = openml.config.server, openml.config._root_cache_directory
    try:
        openml.config.set_root_cache_directory(str(root))
        if server:
            openml.config.server = server
        return pathlib.Path(openml.config.get_cache_directory())
    finally:
        openml.config.server = saved[0]
        openml.config.set_root_cache_directory(str(saved[1]))


def build(root, task_id, dataset_id, name, images, labels, folds=10, seed=0, with_splits=True, server=None):
    base = cache_base(root, server)
    data_dir = base / "datasets" / str(dataset_id)
    task_dir = base / "tasks" / str(task_id)
    data_dir.mkdir(parents=True, exist_ok=True)
    task_dir.mkdir(parents=True, exist_ok=True)
    pixels = images.reshape(len(images), -1)
    columns = [f"pixel{i}" for i in range(1, pixels.shape[1] + 1)]
    classes = [str(c) for c in range(int(labels.max()) + 1)]
    frame = pandas.DataFrame(pixels, columns=columns)
    frame["class"] = pandas.Categorical([str(v) for v in labels], categories=classes)
    frame.to_parquet(data_dir / f"dataset_{dataset_id}.pq")
    (data_dir / "description.xml").write_text(HEADER + f"""<oml:data_set_description xmlns:oml="http://openml.org/openml">
  <oml:id>{dataset_id}</oml:id>
  <oml:name>{name}</oml:name>
  <oml:version>1</oml:version>
  <oml:description>{name}, built for the tests from the canonical files</oml:description>
  <oml:format>ARFF</oml:format>
  <oml:upload_date>2014-09-29T03:28:38</oml:upload_date>
  <oml:licence>Public</oml:licence>
  <oml:url>https://api.openml.org/data/v1/download/{dataset_id}/{name}.arff</oml:url>
  <oml:parquet_url>https://openml1.win.tue.nl/datasets/0000/{dataset_id:04d}/dataset_{dataset_id}.pq</oml:parquet_url>
  <oml:file_id>{dataset_id}</oml:file_id>
  <oml:default_target_attribute>class</oml:default_target_attribute>
  <oml:visibility>public</oml:visibility>
  <oml:status>active</oml:status>
  <oml:md5_checksum>0</oml:md5_checksum>
</oml:data_set_description>
""")
    features = "".join(f"""  <oml:feature><oml:index>{i}</oml:index><oml:name>{column}</oml:name><oml:data_type>numeric</oml:data_type>
    <oml:is_target>false</oml:is_target><oml:is_ignore>false</oml:is_ignore><oml:is_row_identifier>false</oml:is_row_identifier>
    <oml:number_of_missing_values>0</oml:number_of_missing_values></oml:feature>
""" for i, column in enumerate(columns))
    nominal = "".join(f"<oml:nominal_value>{c}</oml:nominal_value>" for c in classes)
    features += f"""  <oml:feature><oml:index>{len(columns)}</oml:index><oml:name>class</oml:name><oml:data_type>nominal</oml:data_type>
    {nominal}<oml:is_target>true</oml:is_target><oml:is_ignore>false</oml:is_ignore><oml:is_row_identifier>false</oml:is_row_identifier>
    <oml:number_of_missing_values>0</oml:number_of_missing_values></oml:feature>
"""
    (data_dir / "features.xml").write_text(HEADER + f'<oml:data_features xmlns:oml="http://openml.org/openml">\n{features}</oml:data_features>\n')
    (task_dir / "task.xml").write_text(HEADER + f"""<oml:task xmlns:oml="http://openml.org/openml">
  <oml:task_id>{task_id}</oml:task_id>
  <oml:task_name>Task {task_id}: {name} (Supervised Classification)</oml:task_name>
  <oml:task_type_id>1</oml:task_type_id>
  <oml:task_type>Supervised Classification</oml:task_type>
  <oml:input name="source_data"><oml:data_set><oml:data_set_id>{dataset_id}</oml:data_set_id><oml:target_feature>class</oml:target_feature></oml:data_set></oml:input>
  <oml:input name="estimation_procedure"><oml:estimation_procedure><oml:id>1</oml:id><oml:type>crossvalidation</oml:type>
    <oml:data_splits_url>https://api.openml.org/api_splits/get/{task_id}/Task_{task_id}_splits.arff</oml:data_splits_url>
    <oml:parameter name="number_repeats">1</oml:parameter><oml:parameter name="number_folds">{folds}</oml:parameter>
    <oml:parameter name="percentage"></oml:parameter><oml:parameter name="stratified_sampling">true</oml:parameter>
  </oml:estimation_procedure></oml:input>
  <oml:input name="evaluation_measures"><oml:evaluation_measures><oml:evaluation_measure>predictive_accuracy</oml:evaluation_measure></oml:evaluation_measures></oml:input>
</oml:task>
""")
    if with_splits:
        fold_of = np.empty(len(labels), dtype=int)
        rng = np.random.default_rng(seed)
        for label in np.unique(labels):  # stratified: each class spread evenly over the folds
            rows = rng.permutation(np.flatnonzero(labels == label))
            fold_of[rows] = (np.arange(len(rows)) + int(label)) % folds
        lines = ["@RELATION splits", "@ATTRIBUTE type {TRAIN,TEST}", "@ATTRIBUTE rowid NUMERIC",
                 "@ATTRIBUTE repeat NUMERIC", "@ATTRIBUTE fold NUMERIC", "@DATA"]
        for fold in range(folds):
            lines += [f"{'TEST' if fold_of[row] == fold else 'TRAIN'},{row},0,{fold}" for row in range(len(labels))]
        (task_dir / "datasplits.arff").write_text("\n".join(lines) + "\n")
    return root
