"""The OpenML stand-in's answers, written after the responses recorded from OpenML's own PHP server
(../shared/reference/openml-genuine/, checked by tests/test_openml_genuine.py): the same elements,
in the same order, the same error codes and messages. Only the values are the stand-in's."""

from xml.sax.saxutils import escape

NS = 'xmlns:oml="http://openml.org/openml"'

# the genuine server's messages for the codes the stand-in answers (openml_OS/.../xml/pre.php)
MESSAGES = {102: "No authentication (Please provide API key for all requests other than HTTP GET)",
            103: "Authentication failed", 111: "Unknown dataset", 151: "Unknown task",
            171: "flow already exists", 181: "Unknown flow", 205: "Unknown flow", 202: "Could not validate run xml by xsd",
            204: "Unknown task", 208: "Associated dataset does not have quality (default evaluation engine): NumberOfInstances",
            209: "Error parsing uploaded file. ", 213: "Parameter in run xml unknown", 236: "Run not found",
            271: "Unknown dataset", 273: "Dataset not processed yet", 330: "Mandatory fields not present.",
            542: "No results"}


def error(code, additional=None):
    """<oml:error> as the genuine server writes it (HTTP 412)."""
    extra = f"\t\t<oml:additional_information>{escape(additional)}</oml:additional_information>\n" if additional else ""
    return (f'<oml:error {NS}>\n\t<oml:code>{code}</oml:code>\n\t<oml:message>{MESSAGES[code]}</oml:message>\n'
            f"{extra}\t</oml:error>\n")


def _fields(values, indent="  "):
    return "".join(f"{indent}<oml:{key}>{escape(str(value))}</oml:{key}>\n" for key, value in values)


def task(task_id, dataset_id, name, root, folds, labels):
    """GET task/<id>: as task_get_61 (a supervised classification task with its splits' URL)."""
    splits = f"{root}/api_splits/get/{task_id}/Task_{task_id}_splits.arff"
    return f"""<oml:task {NS}>
\t<oml:task_id>{task_id}</oml:task_id>
  <oml:task_name>Task {task_id}: {escape(name)} (Supervised Classification)</oml:task_name>
\t<oml:task_type_id>1</oml:task_type_id>
\t<oml:task_type>Supervised Classification</oml:task_type>
\t      <oml:input name="source_data">
    <oml:data_set>
<oml:data_set_id>{dataset_id}</oml:data_set_id>
<oml:target_feature>class</oml:target_feature>
</oml:data_set>  </oml:input>
\t      <oml:input name="estimation_procedure">
    <oml:estimation_procedure>
<oml:id>1</oml:id>
<oml:type>crossvalidation</oml:type>
<oml:data_splits_url>{splits}</oml:data_splits_url>
<oml:parameter name="number_repeats">1</oml:parameter>
<oml:parameter name="number_folds">{folds}</oml:parameter>
<oml:parameter name="percentage"></oml:parameter>
<oml:parameter name="stratified_sampling">true</oml:parameter>
</oml:estimation_procedure>  </oml:input>
\t      <oml:input name="cost_matrix">
    <oml:cost_matrix></oml:cost_matrix>  </oml:input>
\t      <oml:input name="evaluation_measures">
    <oml:evaluation_measures>
<oml:evaluation_measure></oml:evaluation_measure>
</oml:evaluation_measures>  </oml:input>
\t      <oml:output name="predictions">
    <oml:predictions>
<oml:format>ARFF</oml:format>
<oml:feature name="repeat" type="integer"/>
<oml:feature name="fold" type="integer"/>
<oml:feature name="row_id" type="integer"/>
<oml:feature name="confidence.classname" type="numeric"/>
<oml:feature name="prediction" type="string"/>
</oml:predictions>  </oml:output>
\t    <oml:tag>portability</oml:tag>
  </oml:task>
"""


def data_description(dataset_id, name, root, md5):
    """GET data/<id>: as data_get_11, with the ARFF and parquet URLs on this server."""
    return f"""<oml:data_set_description {NS}>
  <oml:id>{dataset_id}</oml:id>
  <oml:name>{escape(name)}</oml:name>
  <oml:version>1</oml:version>
  <oml:description>{escape(name)}, served by the OpenML stand-in</oml:description>
  <oml:description_version>1</oml:description_version>
  <oml:format>ARFF</oml:format>
        <oml:upload_date>2014-04-06T23:20:52</oml:upload_date>
    <oml:licence>Public</oml:licence>  <oml:url>{root}/data/v1/download/{dataset_id}/{escape(name)}.arff</oml:url>
  <oml:parquet_url>{root}/minio/datasets/0000/{dataset_id:04d}/dataset_{dataset_id}.pq</oml:parquet_url>  <oml:file_id>{dataset_id}</oml:file_id>  <oml:default_target_attribute>class</oml:default_target_attribute>      <oml:version_label>1</oml:version_label>    <oml:tag>portability</oml:tag>  <oml:visibility>public</oml:visibility>        <oml:status>active</oml:status>
  <oml:processing_date>2024-01-09 18:02:58</oml:processing_date>      <oml:md5_checksum>{md5}</oml:md5_checksum>
</oml:data_set_description>
"""


def features(columns, classes):
    """GET data/features/<id>: numeric pixel columns, then the nominal target, as data_features_11."""
    def feature(index, name, kind, nominal=(), target=False):
        values = "".join(f"          <oml:nominal_value>{escape(v)}</oml:nominal_value>\n" for v in nominal)
        return (f"    <oml:feature>\n    <oml:index>{index}</oml:index>\n    <oml:name>{escape(name)}</oml:name>\n"
                f"    <oml:data_type>{kind}</oml:data_type>\n{values}"
                f"        <oml:is_target>{'true' if target else 'false'}</oml:is_target>\n    <oml:is_ignore>false</oml:is_ignore>\n"
                "    <oml:is_row_identifier>false</oml:is_row_identifier>\n"
                "    <oml:number_of_missing_values>0</oml:number_of_missing_values>\n  </oml:feature>\n")
    body = "".join(feature(i, name, "numeric") for i, name in enumerate(columns))
    body += feature(len(columns), "class", "nominal", classes, target=True)
    return f"<oml:data_features {NS}>\n{body}</oml:data_features>\n"


def qualities(values):
    """GET data/qualities/<id>: as data_qualities_11."""
    body = "".join(f"        \n  <oml:quality  >\n    <oml:name>{name}</oml:name>\n      <oml:value>{value}</oml:value>\n    </oml:quality>\n"
                   for name, value in values.items())
    return f"<oml:data_qualities {NS}>\n{body}  </oml:data_qualities>\n"


def flow_exists(flow_id):
    """POST flow/exists: as flow_exists_post_true / _false."""
    found = flow_id is not None
    return (f"<oml:flow_exists {NS}>\n\t<oml:exists>{'true' if found else 'false'}</oml:exists>\n"
            f"\t<oml:id>{flow_id if found else -1}</oml:id>\n</oml:flow_exists>\n")


def uploaded(kind, key, value):
    """POST flow / POST run: <oml:upload_flow><oml:id> and <oml:upload_run><oml:run_id>."""
    return f"<oml:{kind} {NS}>\n\t<oml:{key}>{value}</oml:{key}>\n\t</oml:{kind}>\n"


def flow(flow_id, version, fields, parameters, tags, date):
    """GET flow/<id>: as flow_get_16, rebuilt from what was uploaded (the server stores fields, not XML)."""
    head = _fields([("id", flow_id), ("uploader", 1), ("name", fields["name"])], "")
    head += _fields([(k, fields[k]) for k in ("custom_name", "class_name") if fields.get(k)], "")
    head += _fields([("version", version), ("external_version", fields["external_version"]),
                     ("description", fields.get("description", "")), ("upload_date", date),
                     ("language", fields.get("language", "")), ("dependencies", fields.get("dependencies", ""))], "")
    params = "".join("<oml:parameter>\n" + _fields([(k, p.get(k) or "") for k in ("name", "data_type", "default_value", "description")], "\t")
                     + "</oml:parameter>\n" for p in parameters)
    return f"\n<oml:flow {NS}>\n  {head}{params}" + _fields([("tag", t) for t in tags], "") + "</oml:flow>\n"


def run(run_id, run, flow_name, dataset, root, evaluations):
    """GET run/<id>: as run_get_2; the evaluations as run-get.tpl.php writes them once the engine ran."""
    settings = "".join(f"      <oml:parameter_setting>\n      <oml:name>{escape(p['oml:name'])}</oml:name>\n"
                       f"      <oml:value>{escape(str(p['oml:value']))}</oml:value>\n      <oml:component>{run['oml:flow_id']}</oml:component>\n"
                       "    </oml:parameter_setting>\n" for p in run["oml:parameter_setting"])
    tags = "".join(f"        <oml:tag>{escape(t)}</oml:tag>\n" for t in run["tags"])
    files = "".join(f"""                <oml:file>
        <oml:did>-1</oml:did> <!-- Deprecated field, will be removed during next upgrade. -->
        <oml:file_id>{file_id}</oml:file_id>
        <oml:name>{name}</oml:name>
        <oml:url>{root}/data/download/{file_id}/{name}{'.xml' if name == 'description' else '.arff'}</oml:url>
      </oml:file>
""" for file_id, name in ((2 * run_id, "description"), (2 * run_id + 1, "predictions")))
    scores = "".join(f"        <oml:evaluation>\n          <oml:name>{name}</oml:name>\n          <oml:value>{value}</oml:value>\n"
                     "        </oml:evaluation>\n" for name, value in evaluations.items())
    return f"""<oml:run {NS}>
  <oml:run_id>{run_id}</oml:run_id>
  <oml:uploader>1</oml:uploader>
  <oml:uploader_name> </oml:uploader_name>
  <oml:task_id>{run['oml:task_id']}</oml:task_id>
  <oml:task_type>Supervised Classification</oml:task_type>
    <oml:flow_id>{run['oml:flow_id']}</oml:flow_id>
  <oml:flow_name>{escape(flow_name)}</oml:flow_name>
  <oml:setup_id>{run_id}</oml:setup_id>
        <oml:setup_string>{escape(run.get('oml:setup_string') or '')}</oml:setup_string>
{settings}{tags}        <oml:input_data>
          <oml:dataset>
        <oml:did>{dataset[0]}</oml:did>
        <oml:name>{escape(dataset[1])}</oml:name>
        <oml:url>{root}/data/v1/download/{dataset[0]}/{escape(dataset[1])}.arff</oml:url>
      </oml:dataset>
        </oml:input_data>
        <oml:output_data>
{files}{scores}            </oml:output_data>
  </oml:run>
"""


def evaluations(rows):
    """GET evaluation/list/...: as evaluation_list_task61 (412, code 542 when no row matches)."""
    body = "".join(f"""    <oml:evaluation>
    <oml:run_id>{r['run_id']}</oml:run_id>
    <oml:uploader>1</oml:uploader>
    <oml:task_id>{r['task_id']}</oml:task_id>
    <oml:setup_id>{r['run_id']}</oml:setup_id>
    <oml:flow_id>{r['flow_id']}</oml:flow_id>
    <oml:flow_name>{escape(r['flow_name'])}</oml:flow_name>
        <oml:data_id>{r['data_id']}</oml:data_id>    <oml:data_name>{escape(r['data_name'])}</oml:data_name>    <oml:evaluation_engine_id>1</oml:evaluation_engine_id>
    <oml:function>{r['function']}</oml:function>
    <oml:upload_time>2026-11-30 18:32:16</oml:upload_time>
    <oml:value>{r['value']}</oml:value>          </oml:evaluation>
""" for r in rows)
    return f"<oml:evaluations {NS}>\n{body}  </oml:evaluations>\n"


MEASURES = ("area_under_roc_curve", "f_measure", "kappa", "mean_absolute_error", "precision", "predictive_accuracy",
            "recall", "root_mean_squared_error")  # a few of the genuine list's names


def evaluation_measures(names=MEASURES):
    """GET evaluationmeasure/list: as evaluationmeasure_list."""
    body = "".join(f"\t\t\t\t\t<oml:measure>{name}</oml:measure>\n" for name in names)
    return f"<oml:evaluation_measures {NS}>\n\t<oml:measures>\n{body}\t\t\t</oml:measures>\n</oml:evaluation_measures>\n"
