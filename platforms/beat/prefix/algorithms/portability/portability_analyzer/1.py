"""The BEAT analyzer: the experiment's results as BEAT results (test accuracy and loss, the verdict
against the target), with the full results.json, the models and the log carried along for `pull`."""

import json

import numpy


class Algorithm:
    def process(self, data_loaders, output):
        run = data_loaders.loaderOf("run")[0][0]["run"]
        results = json.loads(run.results_json)
        output.write({"accuracy": numpy.float32(results["test"]["accuracy"]), "loss": numpy.float32(results["test"]["loss"]),
                      "verdict": results["target"]["verdict"], "results_json": run.results_json,
                      "model_h5": run.model_h5, "model_keras": run.model_keras, "log": run.log})
        return True
