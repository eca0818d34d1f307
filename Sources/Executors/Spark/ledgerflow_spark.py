"""ledgerflow_spark: what a Spark application run by a Ledgerflow `spark` stage imports to read its
run context, read and write the stage's datasets, and report back (docs/spark.md).

Shipped with Ledgerflow: the engine puts this file on the driver's PYTHONPATH and passes it with
--py-files, so nothing needs installing (the standard library and pyspark only).

It is also the application the engine runs for `engine: spark` train and inference stages:

    spark-submit --py-files ledgerflow_spark.py ledgerflow_spark.py score|train

reads the task of `$LEDGERFLOW_CONTEXT` and writes `task-result.json` in the attempt folder.

Library:
    context()                      the run context (context.json)
    read(spark, name)              an input of the stage as a DataFrame
    write(df, name)                an output of the stage, in the lake layout the in-process stages read
    record_predictions(df, entity, outputs, inputs=())
    report_dataset(...), report_metrics(dict), report_outputs(dict), log(message, level="info")
"""

import atexit
import base64
import functools
import json
import math
import os
import re
import shutil
import sqlite3
import sys
import traceback
import uuid
import zlib

__all__ = ["context", "read", "write", "record_predictions", "report_dataset", "report_metrics", "report_outputs", "log",
           "LedgerflowError", "score", "train", "main"]


class LedgerflowError(Exception):
    """A problem with the stage's context, data or task, with a message that says what to do."""


# MARK: - Context


def _decode_bootstrap(value):
    """The `{"path": FILE}` object of a Dagster Pipes bootstrap variable: base64(zlib(JSON))."""
    try:
        return json.loads(zlib.decompress(base64.b64decode(value)).decode("utf-8"))
    except Exception as e:  # noqa: BLE001
        raise LedgerflowError("a Dagster Pipes bootstrap variable is not base64(zlib(JSON)) (%s); let the engine set it" % e)


_context = None


def context():
    """The run context: `$LEDGERFLOW_CONTEXT` (context.json), else the Dagster Pipes context file."""
    global _context
    if _context is not None:
        return _context
    path = os.environ.get("LEDGERFLOW_CONTEXT")
    if not path and os.environ.get("DAGSTER_PIPES_CONTEXT"):
        path = _decode_bootstrap(os.environ["DAGSTER_PIPES_CONTEXT"]).get("path")
    if not path:
        raise LedgerflowError("no run context: LEDGERFLOW_CONTEXT (or DAGSTER_PIPES_CONTEXT) is not set; run this application from a Ledgerflow stage")
    try:
        with open(path, "r", encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise LedgerflowError("cannot read the run context %s: %s" % (path, e))
    # A Pipes context file may carry ours in its extras.
    if "format" not in data and isinstance(data.get("extras"), dict) and isinstance(data["extras"].get("ledgerflow"), dict):
        data = data["extras"]["ledgerflow"]
    _context = data
    return data


# MARK: - Reporting (Dagster Pipes protocol 0.1)

PIPES_VERSION = "0.1"
_messages = {"fd": None, "closed": False, "exception": None}


def _messages_path():
    if os.environ.get("DAGSTER_PIPES_MESSAGES"):
        p = _decode_bootstrap(os.environ["DAGSTER_PIPES_MESSAGES"]).get("path")
        if p:
            return p
    try:
        return context().get("messages")
    except LedgerflowError:
        return None


def _write_line(method, params):
    fd = _messages["fd"]
    if fd is None:
        return
    line = json.dumps({"__dagster_pipes_version": PIPES_VERSION, "method": method, "params": params}, separators=(",", ":")) + "\n"
    os.write(fd, line.encode("utf-8"))
    try:
        os.fsync(fd)
    except OSError:
        pass


def _emit(method, params):
    """Appends one Pipes message (O_APPEND, one write per line); the first one is preceded by `opened`."""
    if _messages["closed"]:
        return
    if _messages["fd"] is None:
        path = _messages_path()
        if not path:
            return
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        _messages["fd"] = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        _install_close_hooks()
        _write_line("opened", {"extras": {}})
    _write_line(method, params)


def _exception_payload(exc):
    return {"name": type(exc).__name__, "message": str(exc),
            "stack": traceback.format_exception(type(exc), exc, exc.__traceback__), "cause": None, "context": None}


def _close(exc=None):
    """Writes `closed` (with the exception, if any) once."""
    if _messages["closed"]:
        return
    if _messages["fd"] is None and exc is not None:
        _emit("log", {"message": "failed: %s" % exc, "level": "ERROR"})
    if _messages["fd"] is None:
        _messages["closed"] = True
        return
    exc = exc or _messages["exception"]
    _write_line("closed", {"exception": _exception_payload(exc)} if exc is not None else {})
    os.close(_messages["fd"])
    _messages["fd"] = None
    _messages["closed"] = True


_hooks_installed = [False]


def _install_close_hooks():
    if _hooks_installed[0]:
        return
    _hooks_installed[0] = True
    previous = sys.excepthook

    def hook(kind, value, tb):
        _messages["exception"] = value
        _close(value)
        previous(kind, value, tb)

    sys.excepthook = hook
    atexit.register(_close)


def log(message, level="info"):
    """A Pipes `log` message (kept in the attempt's stdout.log)."""
    _emit("log", {"message": str(message), "level": str(level).upper()})


def report_dataset(name, location, format, rows=None, schema=None, content_hash=None, partitions=None):
    """A dataset the application wrote: a Pipes `report_asset_materialization`."""
    metadata = {"location": {"raw_value": location, "type": "path"}, "format": {"raw_value": format, "type": "text"}}
    if rows is not None:
        metadata["rows"] = {"raw_value": int(rows), "type": "int"}
    if schema is not None:
        metadata["schema"] = {"raw_value": schema, "type": "json"}
    if content_hash is not None:
        metadata["content_hash"] = {"raw_value": content_hash, "type": "text"}
    if partitions is not None:
        metadata["partitions"] = {"raw_value": partitions, "type": "json"}
    _emit("report_asset_materialization", {"asset_key": name, "data_version": None, "metadata": metadata})


def report_metrics(values):
    """Metrics of the stage: a Pipes `report_custom_message` {"ledgerflow": "metrics", "values": …}."""
    _emit("report_custom_message", {"payload": {"ledgerflow": "metrics", "values": dict(values)}})


def report_outputs(values):
    """Outputs of the stage: a Pipes `report_custom_message` {"ledgerflow": "outputs", "values": …}."""
    _emit("report_custom_message", {"payload": {"ledgerflow": "outputs", "values": dict(values)}})


# MARK: - Data

_F = None


def _functions():
    global _F
    if _F is None:
        from pyspark.sql import functions
        _F = functions
    return _F


def _c(name):
    """A column by its exact name (names with dots, `=` or backticks included)."""
    return _functions().col("`" + name.replace("`", "``") + "`")


def _token():
    try:
        key = context().get("idempotency_key")
    except LedgerflowError:
        key = None
    return re.sub(r"[^A-Za-z0-9_-]", "_", str(key)) + "-" + uuid.uuid4().hex[:8] if key else uuid.uuid4().hex


def _input(name):
    inputs = context().get("inputs") or {}
    if name not in inputs:
        raise LedgerflowError("input '%s' is not an input of stage '%s' (it has: %s); add it to the stage's inputs"
                              % (name, context().get("stage"), ", ".join(sorted(inputs)) or "none"))
    return inputs[name]


def _output(name):
    outputs = context().get("outputs") or {}
    if name not in outputs:
        raise LedgerflowError("output '%s' is not an output of stage '%s' (it has: %s); add it to the stage's outputs"
                              % (name, context().get("stage"), ", ".join(sorted(outputs)) or "none"))
    return outputs[name]


def _partition_keys(folder):
    """The `col=value` folder names under `folder` (hidden folders skipped), in first-seen order."""
    keys = []
    for _root, dirs, _ in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not d.startswith("_"))
        for d in dirs:
            if "=" in d:
                k = d.split("=", 1)[0]
                if k not in keys:
                    keys.append(k)
    return keys


def _sqlite_frame(spark, spec, name):
    from pyspark.sql import types as T
    db = spec["location"]
    if not os.path.exists(db):
        raise LedgerflowError("sqlite input '%s': %s does not exist; deliver the database there or fix the location" % (name, db))
    if spec.get("query"):
        sql = spec["query"]
    elif spec.get("table"):
        sql = 'SELECT * FROM "%s"' % spec["table"].replace('"', '""')
    else:
        raise LedgerflowError("sqlite input '%s' names neither a table nor a query; give `table` or `query`" % name)
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    try:
        cur = con.execute(sql)
        columns = [d[0] for d in cur.description]
        rows = cur.fetchall()
    finally:
        con.close()
    fields = []
    for i, c in enumerate(columns):
        kinds = {type(r[i]) for r in rows if r[i] is not None}
        if kinds <= {int}:
            t = T.LongType() if kinds else T.StringType()
        elif kinds <= {int, float}:
            t = T.DoubleType()
        elif kinds <= {bytes}:
            t = T.BinaryType()
        else:
            t = T.StringType()
        fields.append(T.StructField(c, t, True))
    schema = T.StructType(fields)

    def convert(v, t):
        if v is None:
            return None
        if isinstance(t, T.DoubleType):
            return float(v)
        if isinstance(t, T.StringType) and not isinstance(v, str):
            return str(v)
        return v
    data = [tuple(convert(r[i], fields[i].dataType) for i in range(len(columns))) for r in rows]
    return spark.createDataFrame(data, schema)


def read(spark, name):
    """Input `name` of the stage as a DataFrame: csv (header, delimiter), jsonl, parquet (a file or a
    folder, optionally partitioned `col=value/`) or sqlite (a table or query, read on the driver)."""
    return _read(spark, name)


def _read(spark, name, order=False):
    spec = _input(name)
    fmt = spec.get("format")
    loc = spec.get("location")
    if fmt == "sqlite":
        df = _sqlite_frame(spark, spec, name)
        return _with_order(df) if order else df
    if fmt not in ("csv", "jsonl", "parquet"):
        raise LedgerflowError("input '%s' has format '%s'; read() reads csv, jsonl, parquet and sqlite" % (name, fmt))
    if not loc or not os.path.exists(loc):
        raise LedgerflowError("%s input '%s': %s does not exist; deliver the data there or fix the location" % (fmt, name, loc))
    folder = os.path.isdir(loc)
    F = _functions()
    if fmt == "parquet":
        df = spark.read.parquet(loc)
        return _with_order(df) if order else df
    reader = spark.read
    if folder:
        # The in-process layout: part files at the top or in `col=value/` folders that keep the
        # partition columns inside the files; hidden files and folders are skipped.
        reader = reader.option("recursiveFileLookup", "true").option("pathGlobFilter", "*." + fmt)
    if fmt == "csv":
        df = (reader.option("header", "true" if spec.get("header", True) else "false").option("sep", spec.get("delimiter") or ",")
              .option("inferSchema", "true").option("escape", '"').option("multiLine", "true").csv(loc))
    else:
        df = reader.option("multiLine", "false").json(loc)
    if order:
        df = _with_order(df)
    if folder:
        for k in _partition_keys(loc):
            if k not in df.columns:  # a Hive layout that keeps the partition columns in the folder names only
                df = df.withColumn(k, F.regexp_extract(F.input_file_name(), "/" + re.escape(k) + "=([^/]*)/", 1))
    return df


def _with_order(df):
    """Adds the hidden columns that give each row its position in the in-process read order."""
    F = _functions()
    return df.withColumn("__lf_file", F.input_file_name()).withColumn("__lf_mid", F.monotonically_increasing_id())


def _number_rows(df):
    """Adds `__lf_row`, the 1-based row number in the order the in-process stages read the rows
    (files sorted by path, rows in file order), from the columns `_with_order` added: one small
    job counts the rows of each (file, Spark partition), the driver turns that into offsets, and a
    broadcast join adds them; no row goes through Python."""
    F = _functions()
    spark = df.sparkSession
    mask = (1 << 33) - 1
    pid = F.shiftright(F.col("__lf_mid"), 33)
    pos = F.col("__lf_mid").bitwiseAND(F.lit(mask))
    groups = df.groupBy(F.col("__lf_file"), pid.alias("__lf_pid")).agg(F.count(F.lit(1)).alias("n"), F.min(pos).alias("p0")).collect()
    base = []
    total = 0
    for g in sorted(groups, key=lambda g: (g["__lf_file"], g["__lf_pid"])):
        base.append((g["__lf_file"], int(g["__lf_pid"]), total - int(g["p0"]) + 1))
        total += int(g["n"])
    bases = spark.createDataFrame(base, "__lf_file string, __lf_pid long, __lf_base long")
    columns = [c for c in df.columns if c not in ("__lf_file", "__lf_mid")]
    joined = df.withColumn("__lf_pid", pid).join(F.broadcast(bases), ["__lf_file", "__lf_pid"])
    return joined.select(*[_c(c) for c in columns], (F.col("__lf_base") + pos).alias("__lf_row")), total


def _ledgerflow_type(dt):
    from pyspark.sql import types as T
    if isinstance(dt, (T.ByteType, T.ShortType, T.IntegerType, T.LongType)):
        return "int"
    if isinstance(dt, (T.FloatType, T.DoubleType, T.DecimalType)):
        return "double"
    if isinstance(dt, T.BooleanType):
        return "bool"
    if isinstance(dt, (T.ArrayType, T.MapType, T.StructType)):
        return "json"
    if isinstance(dt, T.NullType):
        return "null"
    return "string"


def _owned(rel, ext):
    """Whether `rel` is a part file of ours: `part-*EXT` at the top or in `col=value` folders."""
    parts = rel.split(os.sep)
    name = parts[-1]
    if not (name.startswith("part-") and name.endswith(ext)):
        return False
    return all("=" in p and not p.startswith(".") for p in parts[:-1])


def _files(folder, keep):
    out = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d != "_temporary"]
        for f in files:
            rel = os.path.relpath(os.path.join(root, f), folder)
            if keep(rel):
                out.append(rel)
    return sorted(out)


def write(df, name):
    """Writes `df` to output `name` of the stage in the lake layout the in-process stages use (CSV
    with a header as `part-*.csv`, JSON Lines as `part-*.jsonl`, or Parquet; `partition_by`
    gives `col=value/` folders, CSV and JSON Lines files keeping the partition columns like the
    in-process writer does), then reports the dataset. Spark writes into a hidden folder inside
    the destination; the part files are then moved into place. `replace` replaces the part files
    written before (other files stay); `append` adds to them. Returns the rows written."""
    spec = _output(name)
    fmt = spec.get("format")
    loc = spec.get("location")
    mode = spec.get("mode") or "replace"
    partition_by = list(spec.get("partition_by") or [])
    if fmt not in ("csv", "jsonl", "parquet"):
        raise LedgerflowError("output '%s' has format '%s'; write() writes csv, jsonl and parquet" % (name, fmt))
    if mode not in ("replace", "append"):
        raise LedgerflowError("output '%s' has mode '%s'; write() replaces or appends" % (name, mode))
    for p in partition_by:
        if p not in df.columns:
            raise LedgerflowError("partition column '%s' is not a column of the rows written to %s (columns: %s)" % (p, name, ", ".join(df.columns)))
    if os.path.isfile(loc):
        raise LedgerflowError("output '%s': %s is a file, not a folder; %s outputs write folders of part files — choose a folder" % (name, loc, fmt))
    os.makedirs(loc, exist_ok=True)
    token = _token()
    tmp = os.path.join(loc, ".spark-tmp-" + token)
    aside = os.path.join(loc, ".spark-old-" + token)
    data = df.persist()
    try:
        out = data
        keys = partition_by
        if partition_by and fmt != "parquet":
            keys = ["__lfp_" + p for p in partition_by]
            out = data.select("*", *[_c(p).alias(k) for p, k in zip(partition_by, keys)])
        writer = out.write.mode("overwrite").option("mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
        if keys:
            writer = writer.partitionBy(*keys)
        if fmt == "csv":
            (writer.option("header", "true").option("sep", ",").option("quote", '"').option("escape", '"')
             .option("ignoreLeadingWhiteSpace", "false").option("ignoreTrailingWhiteSpace", "false").option("nullValue", "")
             .csv(tmp))
        elif fmt == "jsonl":
            writer.option("ignoreNullFields", "false").json(tmp)
        else:
            writer.parquet(tmp)
        ext = {"csv": ".csv", "jsonl": ".jsonl", "parquet": ".parquet"}[fmt]
        spark_ext = ".json" if fmt == "jsonl" else ext

        def rename(rel):
            parts = rel.split(os.sep)
            folders = []
            for p in parts[:-1]:
                k, _, v = p.partition("=")
                if k.startswith("__lfp_"):
                    k = k[len("__lfp_"):]
                if v == "__HIVE_DEFAULT_PARTITION__":
                    v = "__null__"
                folders.append(k + "=" + v)
            f = parts[-1]
            if f.endswith(spark_ext) and not f.endswith(ext):
                f = f[: -len(spark_ext)] + ext
            return os.path.join(*(folders + [f]))

        new = {rel: rename(rel) for rel in _files(tmp, lambda rel: os.path.basename(rel).startswith("part-") and rel.endswith(spark_ext))}
        old = _files(loc, lambda rel: _owned(rel, ext)) if mode == "replace" else []
        moved_aside, moved_in = [], []

        def move(src, dst):
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            os.replace(src, dst)
        try:
            for rel in old:
                move(os.path.join(loc, rel), os.path.join(aside, rel))
                moved_aside.append(rel)
            for src, dst in new.items():
                move(os.path.join(tmp, src), os.path.join(loc, dst))
                moved_in.append(dst)
        except OSError:
            for rel in moved_in:
                try:
                    os.remove(os.path.join(loc, rel))
                except OSError:
                    pass
            for rel in moved_aside:
                move(os.path.join(aside, rel), os.path.join(loc, rel))
            raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.rmtree(aside, ignore_errors=True)
        # Partition folders that held only old part files, deepest first.
        folders = set()
        for rel in old:
            d = os.path.dirname(rel)
            while d:
                folders.add(d)
                d = os.path.dirname(d)
        for d in sorted(folders, key=len, reverse=True):
            try:
                os.rmdir(os.path.join(loc, d))
            except OSError:
                pass
        rows = data.count()
        schema = [{"name": f.name, "type": _ledgerflow_type(f.dataType)} for f in data.schema.fields]
        partitions = None
        if partition_by:
            partitions = []
            for r in data.groupBy(*[_c(p) for p in partition_by]).count().collect():
                values = {p: r[i] for i, p in enumerate(partition_by)}
                folder = "/".join("%s=%s" % (p, "__null__" if values[p] is None else values[p]) for p in partition_by)
                partitions.append({"values": values, "location": os.path.join(loc, folder), "rows": int(r["count"])})
            partitions.sort(key=lambda p: p["location"])
        report_dataset(name, loc, fmt, rows=rows, schema=schema, partitions=partitions)
        return rows
    finally:
        data.unpersist()


# MARK: - Predictions


def _clean_spool(folder):
    """Removes what the output committer leaves besides part files (`_SUCCESS`, `_temporary`, `.crc`)."""
    if not os.path.isdir(folder):
        return
    for f in os.listdir(folder):
        p = os.path.join(folder, f)
        if f == "_temporary":
            shutil.rmtree(p, ignore_errors=True)
        elif f == "_SUCCESS" or (f.startswith(".") and f.endswith(".crc")):
            try:
                os.remove(p)
            except OSError:
                pass


def record_predictions(df, entity, outputs, inputs=(), model=None, model_version=None):
    """Writes one line per row of `df` to the context's `predictions` folder:
    {"entity": "…", "outputs": {…}, "inputs": {…}} (inputs omitted when none are named), with
    "model" and "model_version" when given (else the engine records them under the stage's name
    without a version, or the model an engine-spark inference stage scores with).
    `entity` is a column name (its value as text) or a Column. The FileOutputCommitter's
    algorithm 2 moves each task's files (at most 65,536 lines each) into place when the task
    commits, so the engine records predictions while the job runs."""
    F = _functions()
    from pyspark.sql import Column
    folder = context().get("predictions")
    if not folder:
        raise LedgerflowError("the run context names no predictions folder; run this application from a Ledgerflow stage")
    e = entity if isinstance(entity, Column) else _c(entity)
    fields = [e.cast("string").alias("entity"), F.struct(*[_c(o).alias(o) for o in outputs]).alias("outputs")]
    if inputs:
        fields.append(F.struct(*[_c(i).alias(i) for i in inputs]).alias("inputs"))
    if model is not None:
        fields.append(F.lit(str(model)).alias("model"))
    if model_version is not None:
        fields.append(F.lit(int(model_version)).alias("model_version"))
    lines = df.select(F.to_json(F.struct(*fields), {"ignoreNullFields": "false"}).alias("value"))
    os.makedirs(folder, exist_ok=True)
    (lines.write.mode("append")
     .option("mapreduce.fileoutputcommitter.algorithm.version", "2")
     .option("mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
     .option("maxRecordsPerFile", 65536)
     .text(folder))
    _clean_spool(folder)


# MARK: - Feature transforms as Spark columns (FittedFeatures.swift)

# A frame is (names, cols, kinds): the column names in order, name → Column, name → kind, where a
# kind is "num" (numbers), "bool", "str" (text) or "null" (no values).


def _kind(dt):
    t = _ledgerflow_type(dt)
    return {"int": "num", "double": "num", "bool": "bool", "null": "null"}.get(t, "str")


def _frame(df):
    names = list(df.columns)
    return names, {n: _c(n) for n in names}, {f.name: _kind(f.dataType) for f in df.schema.fields}


def _format_number(x):
    """Cell.textValue of a number: integral values without a fraction, others the shortest round-trip form."""
    if math.isfinite(x) and x == math.floor(x) and abs(x) < 1e15:
        return str(int(x))
    return repr(float(x))


def _missing(c, kind):
    F = _functions()
    if kind == "num":
        return c.isNull() | F.isnan(c)
    return c.isNull()


def _numeric(c, kind, name, context):
    """The cell as a number for the numeric ops: numbers as is, booleans 1/0, text parsed (text that
    is not a number fails the job, like the in-process `mapNumeric`)."""
    F = _functions()
    if kind == "num":
        return c.cast("double")
    if kind == "bool":
        return c.cast("double")
    if kind == "null":
        return F.lit(None).cast("double")
    parsed = c.cast("double")
    return F.when(c.isNotNull() & parsed.isNull(),
                  F.raise_error(F.concat(F.lit("%s: column '%s' is text '" % (context, name)), c,
                                         F.lit("', not a number; cast or one-hot encode it, or remove it from this step")))).otherwise(parsed)


def _resolve(names, name, context):
    if name not in names:
        raise LedgerflowError("%s: no column '%s'; the columns there are: %s; fix the name in the feature spec"
                              % (context, name, ", ".join("'%s'" % n for n in names) or "none"))


def _cell_value(cell):
    """(python value, kind) of a Codable `Cell` ({"number": {"_0": 3}}, {"text": …}, {"bool": …}, {"missing": {}})."""
    if "number" in cell:
        return float(cell["number"]["_0"]), "num"
    if "text" in cell:
        return cell["text"]["_0"], "str"
    if "bool" in cell:
        return bool(cell["bool"]["_0"]), "bool"
    return None, "null"


def _apply_step(frame, step, position):
    """Applies one fitted step (Codable `FittedStep`) to a frame of columns."""
    F = _functions()
    names, cols, kinds = frame
    (op, p), = step.items()
    opname = {"standardScale": "standard_scale", "minMaxScale": "minmax_scale", "oneHot": "one_hot"}.get(op, op)
    context = "step %d (%s)" % (position, opname)
    cols, kinds = dict(cols), dict(kinds)

    def numeric_map(name, f):
        _resolve(names, name, context)
        # Null and NaN go through the arithmetic unchanged (null stays null, NaN stays NaN).
        cols[name] = f(_numeric(cols[name], kinds[name], name, context))
        kinds[name] = "num"

    if op == "standardScale":
        for name, m, s in zip(p["columns"], p["means"], p["scales"]):
            numeric_map(name, lambda x, m=m, s=s: (x - F.lit(float(m))) / F.lit(float(s)))
        return names, cols, kinds
    if op == "minMaxScale":
        lo, hi = p["range"]
        for name, dmin, dmax in zip(p["columns"], p["dataMins"], p["dataMaxs"]):
            data_range = dmax - dmin
            scale = (hi - lo) / (1 if data_range == 0 else data_range)
            offset = lo - dmin * scale
            numeric_map(name, lambda x, a=scale, b=offset: x * F.lit(float(a)) + F.lit(float(b)))
        return names, cols, kinds
    if op == "log":
        off = float(p["offset"])
        for name in p["columns"]:
            def f(x, name=name):
                bad = F.concat(F.lit("%s: column '%s' is " % (context, name)), x.cast("string"),
                               F.lit(", and log(x + %s) needs x > %s; raise `offset` or clip the column first" % (_format_number(off), _format_number(-off))))
                return F.when((x + F.lit(off) <= 0) | (x <= F.lit(-off)), F.raise_error(bad)).otherwise(F.log(x + F.lit(off)))
            numeric_map(name, f)
        return names, cols, kinds
    if op == "impute":
        for name, cell in zip(p["columns"], p["values"]):
            _resolve(names, name, context)
            value, vkind = _cell_value(cell)
            kind = kinds[name]
            missing = _missing(cols[name], kind)
            if kind in (vkind, "null") or (kind == "num" and vkind == "num"):
                cols[name] = F.when(missing, F.lit(value)).otherwise(cols[name])
                kinds[name] = vkind if kind == "null" else kind
            else:  # mixed cells: kept as text
                text = value if vkind == "str" else (("true" if value else "false") if vkind == "bool" else _format_number(value))
                cols[name] = F.when(missing, F.lit(text)).otherwise(_text(cols[name], kind))
                kinds[name] = "str"
        return names, cols, kinds
    if op == "oneHot":
        unknown = p["unknown"]
        new_names = []
        targets = dict(zip(p["columns"], p["categories"]))
        for name in p["columns"]:
            _resolve(names, name, context)
        for name in names:
            if name not in targets:
                new_names.append(name)
                continue
            cats = targets[name]
            c, kind = cols[name], kinds[name]
            missing = _missing(c, kind)
            hits = []
            for cat in cats:
                if kind == "num":
                    try:
                        v = float(cat)
                        hit = (c == F.lit(v)) if math.isfinite(v) else F.lit(False)
                    except ValueError:
                        hit = F.lit(False)
                elif kind == "null":
                    hit = F.lit(False)
                else:
                    hit = _text(c, kind) == F.lit(cat)
                hit = F.coalesce(hit & ~missing, F.lit(False))
                hits.append(hit)
                col_name = "%s=%s" % (name, cat)
                new_names.append(col_name)
                cols[col_name] = F.when(hit, F.lit(1.0)).otherwise(F.lit(0.0))
                kinds[col_name] = "num"
            known = functools.reduce(lambda a, b: a | b, hits, F.lit(False))
            unseen = ~missing & ~known
            if unknown == "error":
                msg = F.concat(F.lit("%s: column '%s' has " % (context, name)), _text(c, kind),
                               F.lit(", not seen in training (known: %s); use `unknown: ignore` or `unknown: other`, or refit on data that has it"
                                     % ", ".join("'%s'" % k for k in cats)))
                first = "%s=%s" % (name, cats[0])
                cols[first] = F.when(unseen, F.raise_error(msg).cast("double")).otherwise(cols[first])
            elif unknown == "other":
                col_name = "%s=__other__" % name
                new_names.append(col_name)
                cols[col_name] = F.when(unseen, F.lit(1.0)).otherwise(F.lit(0.0))
                kinds[col_name] = "num"
        if len(set(new_names)) != len(new_names):
            dup = next(n for n in new_names if new_names.count(n) > 1)
            raise LedgerflowError("%s would produce column '%s' twice; rename or drop one of them first" % (context, dup))
        return new_names, cols, kinds
    if op == "select":
        for name in p["columns"]:
            _resolve(names, name, context)
        return list(p["columns"]), cols, kinds
    if op == "rename":
        mapping = {}
        for pair in p["_0"]:
            _resolve(names, pair["from"], context)
            mapping[pair["from"]] = pair["to"]
        new_names = [mapping.get(n, n) for n in names]
        if len(set(new_names)) != len(new_names):
            dup = next(n for n in new_names if new_names.count(n) > 1)
            raise LedgerflowError("%s would produce column '%s' twice; rename or drop one of them first" % (context, dup))
        ncols = {mapping.get(n, n): cols[n] for n in names}
        nkinds = {mapping.get(n, n): kinds[n] for n in names}
        return new_names, ncols, nkinds
    if op == "cast":
        for pair in p["_0"]:
            name, to = pair["column"], pair["type"]
            _resolve(names, name, context)
            c, kind = cols[name], kinds[name]
            fail = F.raise_error(F.concat(F.lit("%s: column '%s' is " % (context, name)), c.cast("string"),
                                          F.lit(", which cannot be cast to %s; fix the value or impute/filter it first" % to)))
            if to == "string":
                cols[name] = F.when(_missing(c, kind) if kind != "num" else c.isNull(), F.lit(None).cast("string")).otherwise(_text(c, kind))
                kinds[name] = "str"
            elif to in ("double", "int"):
                x = c.cast("double")
                if kind == "str":
                    x = F.when(c.isNotNull() & x.isNull(), fail.cast("double")).otherwise(x)
                x = F.when(F.isnan(x), F.lit(None).cast("double")).otherwise(x)
                if to == "int":
                    x = F.when(x.isNotNull() & ((x == F.lit(float("inf"))) | (x == F.lit(float("-inf")))), fail.cast("double")).otherwise(x - (x % F.lit(1.0)))
                cols[name] = x
                kinds[name] = "num"
            elif to == "bool":
                if kind == "bool":
                    pass
                elif kind == "num":
                    cols[name] = F.when(c.isNull() | F.isnan(c), F.lit(None).cast("boolean")).otherwise(c != F.lit(0.0))
                elif kind == "null":
                    cols[name] = F.lit(None).cast("boolean")
                else:
                    s = F.lower(F.trim(c))
                    cols[name] = (F.when(c.isNull(), F.lit(None).cast("boolean"))
                                  .when(s.isin("true", "t", "yes", "y", "1"), F.lit(True))
                                  .when(s.isin("false", "f", "no", "n", "0"), F.lit(False))
                                  .otherwise(fail.cast("boolean")))
                kinds[name] = "bool"
        return names, cols, kinds
    raise LedgerflowError("%s: unknown fitted step '%s'; this ledgerflow_spark.py is older than the artifact" % (context, op))


def _text(c, kind):
    """Cell.textValue as a Spark column (numbers formatted like Ledgerflow: "3" for 3.0)."""
    F = _functions()
    if kind == "num":
        x = c.cast("double")
        return (F.when(x.isNull() | F.isnan(x), F.lit(None).cast("string"))
                .when((x == F.floor(x)) & (F.abs(x) < F.lit(1e15)), x.cast("long").cast("string"))
                .otherwise(x.cast("string")))
    if kind == "bool":
        return F.when(c, F.lit("true")).otherwise(F.lit("false"))
    return c.cast("string")


def _transform(df, features):
    """The frame after the fitted steps of `features` (Codable `FittedFeatures`), or the input frame."""
    frame = _frame(df)
    if features:
        for i, step in enumerate(features["steps"]):
            frame = _apply_step(frame, step, i + 1)
    return frame


def _feature_matrix(frame, columns):
    """The model's input columns as doubles; a missing, NaN or text cell fails the job (Frame.matrix)."""
    F = _functions()
    names, cols, kinds = frame
    out = []
    for name in columns:
        if name not in names:
            raise LedgerflowError("feature column '%s' is not in the data after the feature spec; it has %s" % (name, ", ".join(names)))
        kind = kinds[name]
        if kind == "str":
            raise LedgerflowError("column '%s' is text; one-hot encode it or drop it from the features (or add a cast step to double)" % name)
        x = cols[name].cast("double")
        out.append(F.when(x.isNull(), F.raise_error(F.lit("column '%s' is missing; add an impute step for it or drop the row" % name)).cast("double"))
                   .when(F.isnan(x), F.raise_error(F.lit("column '%s' is NaN; impute it or drop the row before training or scoring" % name)).cast("double"))
                   .otherwise(x))
    return out


# MARK: - Models as Spark columns (InferenceExecutor.outputs)


def _dot(intercept, coefficients, xs):
    F = _functions()
    s = F.lit(float(intercept))
    for c, x in zip(coefficients, xs):
        s = s + F.lit(float(c)) * x
    return s


def _sigmoid(z):
    F = _functions()
    return F.when(z >= 0, F.lit(1.0) / (F.lit(1.0) + F.exp(-z))).otherwise(F.exp(z) / (F.lit(1.0) + F.exp(z)))


def _log1pexp(z):
    F = _functions()
    return F.greatest(z, F.lit(0.0)) + F.log1p(F.exp(-F.abs(z)))


def _label_values(classes):
    """The label values of classes "0"/"1" (numbers when both are integers, like in-process)."""
    def as_int(c):
        try:
            return int(c) if re.fullmatch(r"[+-]?\d+", c) else None
        except ValueError:
            return None
    ints = [as_int(c) for c in classes]
    if all(i is not None for i in ints):
        return ints
    return list(classes)


def _squared_distances(xs, centroids):
    """Per centroid (Codable `Matrix`), Σ (x_j − c_j)² in column order, as in KMeansModel.nearest."""
    F = _functions()
    k, p, v = centroids["rows"], centroids["cols"], centroids["values"]
    out = []
    for i in range(k):
        s = F.lit(0.0)
        for j in range(p):
            diff = xs[j] - F.lit(float(v[i * p + j]))
            s = s + diff * diff
        out.append(s)
    return out


def _zscore(xs, means, stds):
    """ZScoreModel.score: max |x − mean| / std over the columns with std > 0 (0 when none)."""
    F = _functions()
    zs = [F.abs(x - F.lit(float(m))) / F.lit(float(sd)) for x, m, sd in zip(xs, means, stds) if sd > 0]
    return F.greatest(F.lit(0.0), *zs) if zs else F.lit(0.0)


def _least(cs):
    return _functions().least(*cs) if len(cs) > 1 else cs[0]


def _model_outputs(df, art, xnames):
    """`df` with the artifact's output columns added, computed from the feature columns `xnames`."""
    F = _functions()
    xs = [F.col(n) for n in xnames]
    outs = art["outputs"]
    t = art["type"]
    width = len(xnames)
    params = {"linear_regression": art.get("linear"), "logistic_regression": art.get("logistic"), "kmeans": art.get("kmeans"),
              "zscore_anomaly": art.get("zscore")}.get(t)
    if params is None:
        raise LedgerflowError("model '%s' has type '%s' with no fitted parameters in its artifact; retrain it" % (art.get("model"), t))
    have = len(params.get("coefficients") or params.get("means") or []) if t != "kmeans" else params["centroids"]["cols"]
    if have != width:
        raise LedgerflowError("model '%s' reads %d columns but its artifact names %d feature columns; retrain it" % (art.get("model"), have, width))
    if t == "linear_regression":
        return df.withColumn(outs[0], _dot(params["intercept"], params["coefficients"], xs))
    if t == "logistic_regression":
        threshold = art.get("threshold")
        threshold = 0.5 if threshold is None else float(threshold)
        zero, one = (_label_values(art.get("classes") or ["0", "1"]) + [1])[:2]
        p = _sigmoid(_dot(params["intercept"], params["coefficients"], xs))
        df = df.withColumn(outs[0], p)
        return df.withColumn(outs[1], F.when(F.col(outs[0]) >= F.lit(threshold), F.lit(one)).otherwise(F.lit(zero)))
    if t == "kmeans":
        k = params["centroids"]["rows"]
        dn = ["__lf_d%d" % i for i in range(k)]
        df = df.select("*", *[d.alias(n) for d, n in zip(_squared_distances(xs, params["centroids"]), dn)])
        df = df.withColumn("__lf_dmin", _least([F.col(d) for d in dn]))
        cluster = F.when(F.col(dn[0]) == F.col("__lf_dmin"), F.lit(0))
        for i in range(1, k):
            cluster = cluster.when(F.col(dn[i]) == F.col("__lf_dmin"), F.lit(i))
        df = df.withColumn(outs[0], cluster.otherwise(F.lit(0)).cast("long")).withColumn(outs[1], F.sqrt(F.col("__lf_dmin")))
        return df.drop(*dn, "__lf_dmin")
    if t == "zscore_anomaly":
        df = df.withColumn(outs[0], _zscore(xs, params["means"], params["stds"]))
        return df.withColumn(outs[1], F.col(outs[0]) >= F.lit(float(params["threshold"])))
    raise LedgerflowError("model '%s' has type '%s', which the Spark application does not score" % (art.get("model"), t))


def _scored(df, art):
    """`df` (raw input columns) with the artifact's outputs added (hidden feature columns dropped)."""
    frame = _transform(df, art.get("features"))
    xs = _feature_matrix(frame, art["featureColumns"])
    xnames = ["__lf_x%d" % i for i in range(len(xs))]
    with_x = df.select("*", *[x.alias(n) for x, n in zip(xs, xnames)])
    return _model_outputs(with_x, art, xnames).drop(*xnames)


def _cell_numeric(c, kind):
    """Cell.numeric: numbers (not NaN), booleans 1/0, text that parses; else null."""
    F = _functions()
    if kind == "num":
        x = c.cast("double")
        return F.when(F.isnan(x), F.lit(None).cast("double")).otherwise(x)
    if kind in ("bool", "str"):
        return c.cast("double")
    return F.lit(None).cast("double")


def _bin_counts(df, refs, kinds):
    """Per column of `refs` (name → inner edges): (n, [count per bin]) over the column's numeric
    cells (Cell.numeric, NaN left out), bins (−∞, e1], …, (ek, +∞), a value on an edge in the
    lower bin (DriftReference.bin). One job whatever the number of columns: the cells are stacked
    as (column, value) rows, each gets its bin (the number of edges below it) and the bins are counted."""
    F = _functions()
    if not refs:
        return {}
    long = df.select(F.explode(F.array(*[F.struct(F.lit(c).alias("k"), _cell_numeric(_c(c), kinds[c]).alias("v")) for c in refs])).alias("e"))
    long = long.select("e.k", "e.v").where(F.col("v").isNotNull() & ~F.isnan(F.col("v")))
    edges = df.sparkSession.createDataFrame([(c, [float(e) for e in refs[c]]) for c in refs], "k string, edges array<double>")
    binned = long.join(F.broadcast(edges), "k").select("k", F.size(F.filter("edges", lambda e: e < F.col("v"))).alias("b"))
    counts = {c: [0] * (len(refs[c]) + 1) for c in refs}
    for r in binned.groupBy("k", "b").count().collect():
        counts[r["k"]][r["b"]] += int(r["count"])
    return {c: (sum(v), v) for c, v in counts.items()}


def _write_json(path, value):
    tmp = path + ".tmp-%d" % os.getpid()
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(value, f, sort_keys=True, allow_nan=False)
    os.replace(tmp, path)


def _clean_number(x):
    """A JSON number of a double, NaN/infinity as null."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def score(spark, task):
    """The `score` task: the artifact's transform and model on every row of the input, predictions
    recorded, the scored rows written to `output` (when given); returns the task result."""
    F = _functions()
    try:
        with open(task["artifact"], "r", encoding="utf-8") as f:
            art = json.load(f)
    except (OSError, ValueError, KeyError) as e:
        raise LedgerflowError("cannot read the model artifact %s: %s; retrain the model" % (task.get("artifact"), e))
    entity_key = task.get("entity_key")
    raw = _read(spark, task["input"], order=not entity_key)
    if entity_key:
        if entity_key not in raw.columns:
            raise LedgerflowError("entity_key '%s' is not a column of input '%s'; it has %s" % (entity_key, task["input"], ", ".join(raw.columns)))
        entity = _c(entity_key)
        base = raw
    else:
        base, _ = _number_rows(raw)
        entity = F.col("__lf_row")
    inputs_frame = _frame(raw)
    scored = _scored(base, art).persist()
    try:
        outs = art["outputs"]
        pin = [c for c in (task.get("prediction_inputs") or []) if c in raw.columns]
        record_predictions(scored, entity, outs, pin)
        version = task.get("model_version")
        # The row count and the mean of the first output (one job), the drift bin counts (one job).
        aggs = [F.count(F.lit(1)).alias("rows")]
        if art["type"] != "kmeans":
            aggs.append(F.avg(F.col(outs[0]).cast("double")).alias("mean"))
        row = scored.agg(*aggs).collect()[0]
        n = int(row["rows"])
        result = {"rows": n, "predictions": n, "drift": {}}
        drift = art.get("drift") or {}
        refs = {c: drift[c]["edges"] for c in drift if c in inputs_frame[0]}
        for c, (count, bins) in _bin_counts(scored, refs, inputs_frame[2]).items():
            if count > 0:
                result["drift"][c] = {"n": count, "counts": bins}
        if art["type"] != "kmeans" and row["mean"] is not None:
            result["means"] = {outs[0]: _clean_number(row["mean"])}
        if task.get("output"):
            cols = [c for c in raw.columns if not c.startswith("__lf_")]
            out = scored.select(*[_c(c) for c in cols], *[_c(o) for o in outs], F.lit(version).cast("long").alias("model_version"))
            write(out, task["output"])
        return result
    finally:
        scored.unpersist()


# MARK: - Training


class SplitMix64:
    """The in-process generator (KMeans.swift), for the same random split."""
    MASK = (1 << 64) - 1

    def __init__(self, seed):
        self.state = seed & self.MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & self.MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & self.MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & self.MASK
        return z ^ (z >> 31)

    def unit(self):
        return (self.next() >> 11) * 2.0 ** -53


def _split(count, fraction, method, seed):
    """(holdout size, held row numbers (1-based) or None for tail) exactly as Split.indices."""
    if fraction <= 0:
        return 0, set()
    h = min(count - 1, max(1, int(math.floor(count * fraction + 0.5))))
    if h <= 0:
        return 0, set()
    if method == "tail":
        return h, None
    order = list(range(count))
    rng = SplitMix64(seed)
    for i in range(count - 1, 0, -1):
        j = rng.next() % (i + 1)
        order[i], order[j] = order[j], order[i]
    return h, {i + 1 for i in order[:h]}


def _order_stats(df, wanted):
    """Exact order statistics: {(column, rank) : value} for the 0-based ranks `wanted[column]` of the
    column's values (a double column of `df`, nulls excluded), in one job (a sort per column)."""
    F = _functions()
    from pyspark.sql import Window
    spark = df.sparkSession
    pairs = [(c, int(r)) for c, ranks in wanted.items() for r in sorted(set(ranks))]
    if not pairs:
        return {}
    long = df.select(F.explode(F.array(*[F.struct(F.lit(c).alias("k"), _c(c).cast("double").alias("v")) for c in wanted])).alias("e"))
    long = long.select("e.k", "e.v").where(F.col("v").isNotNull())
    ranked = long.withColumn("r", F.row_number().over(Window.partitionBy("k").orderBy("v")) - 1)
    keys = spark.createDataFrame(pairs, "k string, r long")
    return {(row["k"], int(row["r"])): float(row["v"]) for row in ranked.join(F.broadcast(keys), ["k", "r"]).collect()}


def _quantile(stat, n, q):
    """DriftReference.quantile: numpy's linear method with its two-sided lerp; `stat(i)` is the i-th smallest."""
    if n == 1:
        return stat(0)
    vi = (n - 1) * q
    if vi >= n - 1:
        return stat(n - 1)
    if vi <= 0:
        return stat(0)
    lower = int(math.floor(vi))
    t = vi - lower
    a, b = stat(lower), stat(lower + 1)
    diff = b - a
    return b - diff * (1 - t) if t >= 0.5 else a + diff * t


def _quantile_ranks(n, qs):
    ranks = set()
    for q in qs:
        vi = (n - 1) * q
        lower = int(math.floor(vi))
        ranks.update(r for r in (0, n - 1, lower, lower + 1) if 0 <= r < n)
    return ranks


def _stats(df, columns, variance=True):
    """count, mean, min, max and (when asked) the population variance (a second pass, like in
    process) of double columns."""
    F = _functions()
    if not columns:
        return {}
    first = df.agg(*[a for c in columns for a in (F.count(_c(c)).alias("n:" + c), F.avg(_c(c)).alias("m:" + c),
                                                     F.min(_c(c)).alias("lo:" + c), F.max(_c(c)).alias("hi:" + c))]).collect()[0]
    means = {c: first["m:" + c] for c in columns}
    if not variance:
        return {c: {"n": int(first["n:" + c]), "mean": means[c], "min": first["lo:" + c], "max": first["hi:" + c]} for c in columns}
    second = df.agg(*[F.avg((_c(c) - F.lit(float(means[c] if means[c] is not None else 0.0))) ** 2).alias("v:" + c) for c in columns]).collect()[0]
    return {c: {"n": int(first["n:" + c]), "mean": means[c], "min": first["lo:" + c], "max": first["hi:" + c], "var": second["v:" + c]}
            for c in columns}


def _training_numbers(df, frame, columns, context):
    """A DataFrame of the non-missing numeric training values of `columns` (as doubles named
    __lf_t0…), failing on text that is not a number or on infinities (trainingNumbers)."""
    F = _functions()
    names, cols, kinds = frame
    out = []
    for i, name in enumerate(columns):
        _resolve(names, name, context)
        x = _numeric(cols[name], kinds[name], name, context)
        x = F.when(F.isnan(x), F.lit(None).cast("double")).otherwise(x)
        x = F.when(x.isNotNull() & ((x == F.lit(float("inf"))) | (x == F.lit(float("-inf")))),
                   F.raise_error(F.lit("%s: column '%s' is infinite in the training data; filter or clip it before fitting" % (context, name))).cast("double")).otherwise(x)
        out.append(x.alias("__lf_t%d" % i))
    return df.select(*out), ["__lf_t%d" % i for i in range(len(columns))]


def _fit_step(df, frame, step, position):
    """Fits one catalog feature step ({"op": …}) on the frame; returns the Codable `FittedStep`."""
    op = step.get("op")
    context = "step %d (%s)" % (position, op)
    columns = step.get("columns")
    names, cols, kinds = frame

    def check(cs):
        if not cs:
            raise LedgerflowError("%s lists no columns; list at least one column or remove the step" % context)
        for c in cs:
            if cs.count(c) > 1:
                raise LedgerflowError("%s lists column '%s' twice; list each column once" % (context, c))

    def numbers(cs, variance=False):
        data, tn = _training_numbers(df, frame, cs, context)
        st = _stats(data, tn, variance)
        for c, t in zip(cs, tn):
            if st[t]["n"] == 0:
                raise LedgerflowError("%s: column '%s' has no non-missing values in the training data; check the source or drop the column" % (context, c))
        return data, [st[t] for t in tn], tn

    if op == "standard_scale":
        check(columns)
        _, st, _ = numbers(columns, variance=True)
        means, scales = [], []
        eps = sys.float_info.epsilon
        for s in st:
            n, m, var = float(s["n"]), s["mean"], s["var"]
            noise = n * eps * var + (n * m * eps) * (n * m * eps)
            constant = s["min"] == s["max"] or var <= noise
            means.append(m)
            scales.append(1.0 if constant else math.sqrt(var))
        return {"standardScale": {"columns": columns, "means": means, "scales": scales}}
    if op == "minmax_scale":
        check(columns)
        r = step.get("range") or [0.0, 1.0]
        lo, hi = float(r[0]), float(r[1])
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise LedgerflowError("%s: range [%s, %s] must have a finite lower bound below the upper bound; fix `range`" % (context, lo, hi))
        _, st, _ = numbers(columns)
        return {"minMaxScale": {"columns": columns, "range": [lo, hi], "dataMins": [s["min"] for s in st], "dataMaxs": [s["max"] for s in st]}}
    if op == "one_hot":
        check(columns)
        unknown = step.get("unknown") or "ignore"
        categories = []
        for name in columns:
            _resolve(names, name, context)
            kind = kinds[name]
            c = cols[name]
            values = [r[0] for r in df.select(c.alias("v")).where(~_missing(c, kind)).distinct().collect()]
            if kind == "num":
                texts = sorted({_format_number(float(v)) for v in values}, key=lambda s: float(s))
            elif kind == "bool":
                texts = sorted({"true" if v else "false" for v in values})
            else:
                texts = sorted({str(v) for v in values})
            if not texts:
                raise LedgerflowError("%s: column '%s' has no non-missing values in the training data; check the source or drop the column" % (context, name))
            if unknown == "other" and "__other__" in texts:
                raise LedgerflowError("%s: column '%s' has the value '__other__', which `unknown: other` reserves; use `unknown: ignore` or rename the value" % (context, name))
            categories.append(texts)
        return {"oneHot": {"columns": columns, "categories": categories, "unknown": unknown}}
    if op == "impute":
        check(columns)
        strategy = step.get("strategy")
        if strategy == "constant":
            v = step.get("value")
            if v is None:
                raise LedgerflowError("%s: the constant fill value is missing; give `value`" % context)
            if isinstance(v, bool):
                cell = {"bool": {"_0": v}}
            elif isinstance(v, (int, float)):
                if not math.isfinite(float(v)):
                    raise LedgerflowError("%s: the constant fill value is infinite; give a finite `value`" % context)
                cell = {"number": {"_0": float(v)}}
            else:
                cell = {"text": {"_0": v if isinstance(v, str) else json.dumps(v, sort_keys=True)}}
            return {"impute": {"columns": columns, "values": [cell for _ in columns]}}
        data, st, tn = numbers(columns)
        if strategy == "mean":
            values = [s["mean"] for s in st]
        elif strategy == "median":
            wanted = {t: {(s["n"] - 1) // 2, s["n"] // 2} for t, s in zip(tn, st)}
            o = _order_stats(data, wanted)
            values = []
            for t, s in zip(tn, st):
                n = s["n"]
                values.append(o[(t, n // 2)] if n % 2 == 1 else (o[(t, n // 2 - 1)] + o[(t, n // 2)]) / 2)
        else:
            raise LedgerflowError("%s: strategy '%s' is not mean, median or constant" % (context, strategy))
        return {"impute": {"columns": columns, "values": [{"number": {"_0": v}} for v in values]}}
    if op == "log":
        check(columns)
        off = step.get("offset")
        off = 1.0 if off is None else float(off)
        if not math.isfinite(off):
            raise LedgerflowError("%s: offset %s is not finite; give a finite `offset` (default 1)" % (context, off))
        return {"log": {"columns": columns, "offset": off}}
    if op == "select":
        check(columns)
        return {"select": {"columns": columns}}
    if op == "rename":
        pairs = [{"from": k, "to": v} for k, v in (columns or {}).items()]
        check([p["from"] for p in pairs])
        return {"rename": {"_0": pairs}}
    if op == "cast":
        pairs = [{"column": k, "type": v} for k, v in (columns or {}).items()]
        check([p["column"] for p in pairs])
        return {"cast": {"_0": pairs}}
    raise LedgerflowError("%s: unknown op '%s'" % (context, op))


def _fit_features(df, spec):
    """Fits the catalog feature spec step by step on the training rows (Codable `FittedFeatures`)."""
    frame = _frame(df)
    if not spec or not spec.get("steps"):
        return None, frame
    fitted = []
    for i, step in enumerate(spec["steps"]):
        f = _fit_step(df, frame, step, i + 1)
        frame = _apply_step(frame, f, i + 1)
        fitted.append(f)
    return {"steps": fitted, "inputColumns": list(df.columns), "outputColumns": list(frame[0])}, frame


def _class_key(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, (int, float)):
        x = float(v)
        if math.isnan(x):
            return None
        return str(int(x)) if x == math.floor(x) and abs(x) < 1e15 else repr(x)
    return str(v)


def _class_order(a, b):
    try:
        x, y = float(a), float(b)
        return -1 if x < y else (1 if x > y else 0)
    except ValueError:
        return -1 if a < b else (1 if a > b else 0)


def _cholesky(a, n):
    l = [row[:] for row in a]
    for j in range(n):
        d = l[j][j] - sum(l[j][k] * l[j][k] for k in range(j))
        if not (d > 0) or not math.isfinite(d):
            return None
        s = math.sqrt(d)
        l[j][j] = s
        for i in range(j + 1, n):
            l[i][j] = (l[i][j] - sum(l[i][k] * l[j][k] for k in range(j))) / s
    return l


def _cholesky_solve(l, n, b):
    x = list(b)
    for i in range(n):
        x[i] = (x[i] - sum(l[i][k] * x[k] for k in range(i))) / l[i][i]
    for i in range(n - 1, -1, -1):
        x[i] = (x[i] - sum(l[k][i] * x[k] for k in range(i + 1, n))) / l[i][i]
    return x


def _logistic_sums(theta, C, p):
    """Per partition of (x…, y) rows: [Σ log-loss terms, gradient sums, lower-triangle Hessian sums] at theta."""
    d = p + 1

    def sums(rows):
        obj = 0.0
        g = [0.0] * d
        h = [0.0] * (d * (d + 1) // 2)
        b0 = theta[p]
        w = theta[:p]
        for r in rows:
            z = b0
            for j in range(p):
                z += w[j] * r[j]
            y = r[p]
            obj += (max(z, 0.0) + math.log1p(math.exp(-abs(z)))) - y * z
            if z >= 0:
                mu = 1 / (1 + math.exp(-z))
            else:
                e = math.exp(z)
                mu = e / (1 + e)
            rr = C * (mu - y)
            sw = C * mu * (1 - mu)
            k = 0
            for a in range(d):
                xa = r[a] if a < p else 1.0
                g[a] += rr * xa
                sa = sw * xa
                if sa != 0:
                    for b in range(a + 1):
                        h[k + b] += sa * (r[b] if b < p else 1.0)
                k += a + 1
        yield [obj] + g + h
    return sums


def _fit_logistic(data, xs, y, C, max_iter, n, tolerance=1e-8):
    """LogisticRegression.fit: Newton's method on ½‖w‖² + C·Σ log-loss (intercept unpenalised), the
    same start, stopping rule and backtracking line search as in-process. The design matrix comes
    from Spark columns; each Newton step is one pass over it (the objective, gradient and Hessian
    at the candidate, summed per partition and tree-reduced), the small system is solved here."""
    p = len(xs)
    d = p + 1
    rows = data.select(*xs, y).rdd.map(lambda r: tuple(float(v) for v in r)).persist()
    try:
        positives = int(rows.map(lambda r: r[p]).sum())
        if positives == 0 or positives == n:
            raise LedgerflowError("LogisticRegression.fit: every target is %d; the data needs both classes 0 and 1" % (0 if positives == 0 else 1))

        def at(t):
            v = rows.mapPartitions(_logistic_sums(list(t), C, p)).treeReduce(lambda a, b: [x + y_ for x, y_ in zip(a, b)])
            obj = 0.5 * sum(w * w for w in t[:p]) + C * v[0]
            grad = v[1:1 + d]
            hess = [[0.0] * d for _ in range(d)]
            k = 1 + d
            for a in range(d):
                for b in range(a + 1):
                    hess[a][b] = hess[b][a] = v[k]
                    k += 1
            return obj, grad, hess

        theta = [0.0] * d
        prior = positives / n
        theta[p] = math.log(prior / (1 - prior))
        limit = tolerance * max(1.0, C * n)
        f, grad0, hess0 = at(theta)
        iterations = 0
        converged = False
        while True:
            grad = list(grad0)
            hess = [row[:] for row in hess0]
            for j in range(p):
                grad[j] += theta[j]
                hess[j][j] += 1.0
            if max(abs(g) for g in grad) <= limit:
                converged = True
                break
            if iterations >= max_iter:
                break
            iterations += 1
            l = _cholesky(hess, d)
            jitter = 0.0
            while l is None:
                jitter = 1e-10 * max(1.0, hess[p][p]) if jitter == 0 else jitter * 10
                if jitter > 1e6:
                    raise LedgerflowError("LogisticRegression.fit: the Hessian is singular; check for constant or duplicated columns")
                l = _cholesky([[hess[i][j] + (jitter if i == j else 0.0) for j in range(d)] for i in range(d)], d)
            step = _cholesky_solve(l, d, grad)
            slope = sum(g * s_ for g, s_ in zip(grad, step))
            t = 1.0
            accepted = False
            for _ in range(60):
                cand = [theta[k] - t * step[k] for k in range(d)]
                fc, gc, hc = at(cand)
                if math.isfinite(fc) and fc <= f - 1e-4 * t * slope:
                    theta, f, grad0, hess0, accepted = cand, fc, gc, hc, True
                    break
                t *= 0.5
            if not accepted:
                break
        return {"coefficients": theta[:p], "intercept": theta[p], "iterations": iterations, "converged": converged}
    finally:
        rows.unpersist()


def _fit_linear(data, xs, y, l2, n):
    """LinearRegression.fit: ridge (l2 on the weights, intercept unpenalised) on centred data, from
    the aggregated centred Gram matrix (the in-process fit uses QR; the optimum is the same)."""
    F = _functions()
    p = len(xs)
    if l2 == 0 and n < p:
        raise LedgerflowError("LinearRegression.fit: %d rows for %d features is underdetermined; add rows or pass l2 > 0" % (n, p))
    row = data.agg(*[F.avg(x).alias("m%d" % j) for j, x in enumerate(xs)], F.avg(y).alias("my")).collect()[0]
    means = [float(row["m%d" % j]) for j in range(p)]
    ym = float(row["my"])
    if p == 0:
        return {"coefficients": [], "intercept": ym}
    xc = [x - F.lit(m) for x, m in zip(xs, means)]
    yc = y - F.lit(ym)
    aggs = [F.sum(xc[a] * xc[b]).alias("g%d_%d" % (a, b)) for a in range(p) for b in range(a + 1)]
    aggs += [F.sum(xc[a] * yc).alias("c%d" % a) for a in range(p)]
    row = data.agg(*aggs).collect()[0]
    gram = [[0.0] * p for _ in range(p)]
    for a in range(p):
        for b in range(a + 1):
            gram[a][b] = gram[b][a] = float(row["g%d_%d" % (a, b)])
        gram[a][a] += l2
    rhs = [float(row["c%d" % a]) for a in range(p)]
    scale = max(gram[a][a] for a in range(p))
    l = _cholesky(gram, p)
    if l is None or min(l[a][a] for a in range(p)) ** 2 <= scale * p * sys.float_info.epsilon:
        raise LedgerflowError("LinearRegression.fit: feature columns are constant or collinear; drop redundant columns or pass l2 > 0")
    w = _cholesky_solve(l, p, rhs)
    intercept = ym
    for j in range(p):
        intercept -= w[j] * means[j]
    return {"coefficients": w, "intercept": intercept}


def _fit_kmeans(data, xs, k, n_init, max_iter, seed, n, tolerance=1e-4):
    """k-means: k-means++ seeding (one D²-weighted draw per centre, seeded) and Lloyd iterations
    aggregated over the DataFrame; the best inertia of `n_init` initialisations. Valid and
    deterministic for a seed, but not the in-process fit's exact centroids."""
    F = _functions()
    p = len(xs)
    if k < 1 or k > n:
        raise LedgerflowError("KMeans.fit: k = %d must be between 1 and the %d rows" % (k, n))
    pts = data.select(F.array(*xs).alias("x"), F.monotonically_increasing_id().alias("__lf_id")).persist()
    try:
        st = pts.select(*[F.col("x")[j].alias("c%d" % j) for j in range(p)])
        variances = st.agg(*[F.var_pop("c%d" % j) for j in range(p)]).collect()[0]
        shift_limit = tolerance * sum(float(v or 0) for v in variances) / p
        rng = SplitMix64(seed)

        def d2(centers):
            dist = _squared_distances([F.col("x")[j] for j in range(p)], {"rows": len(centers), "cols": p, "values": [v for c in centers for v in c]})
            return _least(dist), dist

        best = None
        for _ in range(n_init):
            # k-means++: the first centre uniformly, then each with probability ∝ D² (weighted
            # sampling by the largest u^(1/w) key, u from a seeded hash of the row id).
            salt = rng.next() & 0x7FFFFFFF
            first = pts.orderBy(F.xxhash64(F.col("__lf_id"), F.lit(salt))).limit(1).collect()[0]["x"]
            centers = [list(first)]
            while len(centers) < k:
                salt = rng.next() & 0x7FFFFFFF
                dmin, _ = d2(centers)
                u = (F.abs(F.xxhash64(F.col("__lf_id"), F.lit(salt))) % F.lit(1 << 52) + F.lit(1)) / F.lit(float((1 << 52) + 1))
                key = F.log(u) / dmin
                pick = pts.where(dmin > 0).orderBy(key.desc()).limit(1).collect()
                centers.append(list(pick[0]["x"]) if pick else list(centers[-1]))
            iterations = 0
            while iterations < max_iter:
                iterations += 1
                dmin, dist = d2(centers)
                cluster = F.when(dist[0] == dmin, F.lit(0))
                for i in range(1, k):
                    cluster = cluster.when(dist[i] == dmin, F.lit(i))
                rows = (pts.select(cluster.alias("k"), "x").groupBy("k")
                        .agg(F.count(F.lit(1)).alias("n"), *[F.sum(F.col("x")[j]).alias("s%d" % j) for j in range(p)]).collect())
                new = [list(c) for c in centers]  # an emptied cluster keeps its centre
                for r in rows:
                    new[r["k"]] = [float(r["s%d" % j]) / r["n"] for j in range(p)]
                shift = sum((a - b) ** 2 for c0, c1 in zip(centers, new) for a, b in zip(c0, c1))
                centers = new
                if shift <= shift_limit:
                    break
            dmin, _ = d2(centers)
            inertia = float(pts.agg(F.sum(dmin)).collect()[0][0])
            if best is None or inertia < best["inertia"]:
                best = {"centroids": {"rows": k, "cols": p, "values": [v for c in centers for v in c]}, "inertia": inertia, "iterations": iterations}
        return best
    finally:
        pts.unpersist()


def _hp(task, key, default):
    v = (task.get("hyperparameters") or {}).get(key)
    return default if v is None else v


def _drift_references(train_df, target, n):
    """Per raw numeric training column (not the target, not `id`/`*_id`, every cell a number), its
    deciles (numpy linear, repeats removed) and the expected fraction per bin (DriftReference.fit)."""
    F = _functions()
    names, cols, kinds = _frame(train_df)
    candidates = [c for c in names if c != target and c != "id" and not c.endswith("_id") and not c.startswith("__lf_") and kinds[c] != "null"]
    if not candidates or n == 0:
        return {}
    vals = train_df.select(*[_cell_numeric(cols[c], kinds[c]).alias(c) for c in candidates])
    finite = lambda c: F.when(F.abs(_c(c)) == F.lit(float("inf")), F.lit(None).cast("double")).otherwise(_c(c))
    row = vals.agg(*[a for c in candidates for a in (F.count(_c(c)).alias("all:" + c), F.count(finite(c)).alias("fin:" + c))]).collect()[0]
    usable = [c for c in candidates if int(row["all:" + c]) == n and int(row["fin:" + c]) > 0]
    if not usable:
        return {}
    fin = vals.select(*[finite(c).alias(c) for c in usable])
    counts = {c: int(row["fin:" + c]) for c in usable}
    qs = [k / 10 for k in range(1, 10)]
    o = _order_stats(fin, {c: _quantile_ranks(counts[c], qs) for c in usable})
    edges = {}
    for c in usable:
        e = []
        for q in qs:
            v = _quantile(lambda i, c=c: o[(c, i)], counts[c], q)
            if not e or e[-1] != v:
                e.append(v)
        edges[c] = e
    kinds2 = {c: "num" for c in usable}
    refs = {}
    for c, (total, bins) in _bin_counts(fin, edges, kinds2).items():
        refs[c] = {"edges": edges[c], "expected": [b / total if total else 0.0 for b in bins]}
    return refs


def train(spark, task):
    """The `train` task: split, fit the feature spec and the model on the training rows, holdout
    metrics, drift references; writes the artifact (ModelArtifact JSON) to `artifact_out`."""
    F = _functions()
    mtype = task.get("type")
    if mtype not in ("linear_regression", "logistic_regression", "kmeans", "zscore_anomaly"):
        raise LedgerflowError("model '%s' has type '%s'; the Spark application trains linear_regression, logistic_regression, kmeans and zscore_anomaly"
                              % (task.get("model"), mtype))
    target = task.get("target")
    raw = _read(spark, task["input"], order=True)
    numbered, n = _number_rows(raw)
    if n == 0:
        raise LedgerflowError("training dataset '%s' of model '%s' has no rows; nothing to train on" % (task["input"], task.get("model")))
    numbered = numbered.persist()
    try:
        fraction = task.get("holdout")
        fraction = 0.2 if fraction is None else float(fraction)
        method = task.get("split") or "random"
        seed = int(_hp(task, "seed", 0))
        h, held = _split(n, fraction, method, seed)
        row = F.col("__lf_row")
        if h == 0:
            train_df, hold_df = numbered, None
        elif held is None:
            train_df, hold_df = numbered.where(row <= F.lit(n - h)), numbered.where(row > F.lit(n - h))
        else:
            keys = spark.createDataFrame([(i,) for i in sorted(held)], "__lf_row long")
            train_df = numbered.join(F.broadcast(keys), ["__lf_row"], "left_anti")
            hold_df = numbered.join(F.broadcast(keys), ["__lf_row"], "left_semi")
        columns = [c for c in raw.columns if not c.startswith("__lf_")]
        train_df = train_df.select(*[_c(c) for c in columns]).persist()
        n_train = n - h
        fitted, frame = _fit_features(train_df, task.get("features"))
        names, cols, kinds = frame
        # Feature columns: named, else every numeric/boolean column but the target and identifiers.
        feature_columns = task.get("feature_columns")
        if not feature_columns:
            cand = [c for c in names if c != target and c != "id" and not c.endswith("_id") and kinds[c] in ("num", "bool")]
            ok = train_df.agg(*[F.count(F.when(~_missing(cols[c], kinds[c]), F.lit(1))).alias(c) for c in cand]).collect()[0] if cand else {}
            feature_columns = [c for c in cand if int(ok[c]) == n_train]
            if not feature_columns:
                raise LedgerflowError("model '%s' has no numeric feature columns in its training data (columns: %s); add a feature spec (one_hot for text) or list feature_columns"
                                      % (task.get("model"), ", ".join(names)))
        hold_frame = _transform(hold_df.select(*[_c(c) for c in columns]), fitted) if hold_df is not None else None

        def target_of(fr):
            if not target:
                raise LedgerflowError("model '%s' (%s) needs a target; add `target: COLUMN`" % (task.get("model"), mtype))
            if target not in fr[0]:
                raise LedgerflowError("target '%s' of model '%s' is not a column of the training data; it has %s" % (target, task.get("model"), ", ".join(fr[0])))
            return fr[1][target], fr[2][target]

        def design(base, fr, with_y=None):
            xs = _feature_matrix(fr, feature_columns)
            sel = [x.alias("__lf_x%d" % i) for i, x in enumerate(xs)]
            if with_y is not None:
                sel.append(with_y.alias("__lf_y"))
            return base.select(*sel).persist(), [F.col("__lf_x%d" % i) for i in range(len(xs))]

        artifact = {"format": 1, "model": task.get("model"), "type": mtype, "featureColumns": feature_columns,
                    "outputs": list(task.get("prediction_fields") or []), "drift": {}}
        if target:
            artifact["target"] = target
        if fitted is not None:
            artifact["features"] = fitted
        metrics = {"training_rows": n_train, "holdout_rows": h}
        hyper = {}
        if mtype == "linear_regression":
            def numeric_target(fr):
                c, kind = target_of(fr)
                y = _cell_numeric(c, kind)
                return F.when(y.isNull(), F.raise_error(F.lit("target '%s' of model '%s' is not a number in a training row; clean or filter it" % (target, task.get("model")))).cast("double")).otherwise(y)
            l2 = float(_hp(task, "l2", 0.0))
            hyper = {"l2": l2}
            data, xs = design(train_df, frame, numeric_target(frame))
            model = _fit_linear(data, xs, F.col("__lf_y"), l2, n_train)
            artifact["linear"] = model
            if hold_df is not None:
                hd, hx = design(hold_df, hold_frame, numeric_target(hold_frame))
                pred = _dot(model["intercept"], model["coefficients"], hx)
                yh = F.col("__lf_y")
                ym = hd.agg(F.avg(yh)).collect()[0][0]
                r = hd.agg(F.sum((yh - pred) ** 2), F.sum((yh - F.lit(ym)) ** 2)).collect()[0]
                res, tot = float(r[0]), float(r[1])
                metrics["r2"] = (1.0 if res == 0 else 0.0) if tot == 0 else 1 - res / tot
                metrics["rmse"] = math.sqrt(res / h)
                hd.unpersist()
            data.unpersist()
        elif mtype == "logistic_regression":
            c, kind = target_of(frame)
            keys = {_class_key(r[0]) for r in train_df.select(c.alias("t")).distinct().collect() if not (kind == "num" and r[0] is not None and math.isnan(r[0]))} if kind != "str" else \
                {r[0] for r in train_df.select(c.alias("t")).distinct().collect()}
            missing_target = None in keys
            keys.discard(None)
            classes = sorted(keys, key=functools.cmp_to_key(_class_order))
            if len(classes) != 2:
                raise LedgerflowError("target '%s' of model '%s' must have exactly two classes for logistic regression; the training rows have %d: %s"
                                      % (target, task.get("model"), len(classes), ", ".join(classes[:5])))
            if missing_target:
                raise LedgerflowError("target '%s' of model '%s' is missing in a training row; it must be one of %s" % (target, task.get("model"), ", ".join(classes)))

            def binary(fr):
                tc, tk = target_of(fr)
                if tk == "num":
                    hit1, hit0 = tc == F.lit(float(classes[1])), tc == F.lit(float(classes[0]))
                elif tk == "bool":
                    hit1, hit0 = tc == F.lit(classes[1] == "1"), tc == F.lit(classes[1] != "1")
                else:
                    hit1, hit0 = tc == F.lit(classes[1]), tc == F.lit(classes[0])
                bad = F.raise_error(F.lit("target '%s' of model '%s' is not one of %s in a row" % (target, task.get("model"), ", ".join(classes))))
                return F.when(hit1, F.lit(1.0)).when(hit0, F.lit(0.0)).otherwise(bad.cast("double"))
            C = float(_hp(task, "C", 1.0))
            max_iter = int(_hp(task, "max_iter", 100))
            threshold = float(_hp(task, "threshold", 0.5))
            hyper = {"C": C, "max_iter": max_iter, "threshold": threshold}
            data, xs = design(train_df, frame, binary(frame))
            model = _fit_logistic(data, xs, F.col("__lf_y"), C, max_iter, n_train)
            artifact.update({"logistic": model, "threshold": threshold, "classes": classes})
            metrics["converged"] = model["converged"]
            if hold_df is not None:
                hd, hx = design(hold_df, hold_frame, binary(hold_frame))
                pcol = _sigmoid(_dot(model["intercept"], model["coefficients"], hx))
                yh = F.col("__lf_y")
                eps = sys.float_info.epsilon
                pc = F.least(F.greatest(pcol, F.lit(eps)), F.lit(1 - eps))
                r = hd.agg(F.avg(F.when((F.when(pcol >= F.lit(threshold), F.lit(1.0)).otherwise(F.lit(0.0))) == yh, F.lit(1.0)).otherwise(F.lit(0.0))),
                           F.avg(-(yh * F.log(pc) + (F.lit(1.0) - yh) * F.log(F.lit(1.0) - pc)))).collect()[0]
                metrics["accuracy"] = float(r[0])
                metrics["log_loss"] = float(r[1])
                auc = _roc_auc(hd.select(pcol.alias("p"), yh.alias("y")))
                if auc is not None:
                    metrics["roc_auc"] = auc
                hd.unpersist()
            data.unpersist()
        elif mtype == "kmeans":
            k = _hp(task, "k", None)
            if k is None:
                raise LedgerflowError("model '%s' (kmeans) needs hyperparameters.k" % task.get("model"))
            n_init, max_iter, seed = int(_hp(task, "n_init", 10)), int(_hp(task, "max_iter", 300)), int(_hp(task, "seed", 0))
            hyper = {"k": int(k), "n_init": n_init, "max_iter": max_iter, "seed": seed}
            data, xs = design(train_df, frame)
            model = _fit_kmeans(data, xs, int(k), n_init, max_iter, seed, n_train)
            artifact["kmeans"] = model
            metrics["inertia"] = model["inertia"]
            if hold_df is not None:
                hd, hx = design(hold_df, hold_frame)
                metrics["holdout_inertia"] = float(hd.agg(F.sum(_least(_squared_distances(hx, model["centroids"])))).collect()[0][0])
                hd.unpersist()
            data.unpersist()
        else:
            threshold = float(_hp(task, "threshold", 3.0))
            if not (math.isfinite(threshold) and threshold > 0):
                raise LedgerflowError("ZScoreAnomaly.fit: threshold is %s; pass a finite value > 0" % threshold)
            hyper = {"threshold": threshold}
            data, xs = design(train_df, frame)
            names_x = ["__lf_x%d" % i for i in range(len(xs))]
            st = _stats(data, names_x)
            model = {"means": [st[c]["mean"] for c in names_x], "stds": [math.sqrt(st[c]["var"]) for c in names_x], "threshold": threshold}
            artifact["zscore"] = model
            if hold_df is not None:
                hd, hx = design(hold_df, hold_frame)
                score_col = _zscore(hx, model["means"], model["stds"])
                metrics["anomaly_rate"] = float(hd.agg(F.avg(F.when(score_col >= F.lit(threshold), F.lit(1.0)).otherwise(F.lit(0.0)))).collect()[0][0])
                hd.unpersist()
            data.unpersist()
        artifact["drift"] = _drift_references(train_df, target, n_train)
        out = task.get("artifact_out")
        if not out:
            raise LedgerflowError("the train task names no artifact_out; the engine gives the path to write the artifact to")
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        _write_json(out, artifact)
        train_df.unpersist()
        return {"artifact": out, "training_rows": n_train, "holdout_rows": h, "metrics": metrics, "hyperparameters": hyper}
    finally:
        numbered.unpersist()


def _roc_auc(df):
    """Metrics.rocAUC: ties by average rank, from the (score → count, positives) groups; None with one class."""
    F = _functions()
    groups = sorted(df.groupBy("p").agg(F.count(F.lit(1)).alias("n"), F.sum("y").alias("pos")).collect(), key=lambda r: r["p"])
    start = 0
    rank_sum = 0.0
    positives = 0
    total = 0
    for g in groups:
        cnt, pos = int(g["n"]), int(g["pos"])
        average = (start + (start + cnt - 1) + 2) / 2
        rank_sum += average * pos
        positives += pos
        start += cnt
        total += cnt
    negatives = total - positives
    if positives == 0 or negatives == 0:
        return None
    pp, q = float(positives), float(negatives)
    return (rank_sum - pp * (pp + 1) / 2) / (pp * q)


# MARK: - The application


def _user_error(e):
    """The message of a `raise_error` of ours that failed a Spark job, without the Java stack around it."""
    if isinstance(e, LedgerflowError):
        return e
    for line in str(e).splitlines():
        m = re.search(r"RuntimeException: (?:\[USER_RAISED_EXCEPTION\] )?(.*?)(?:\. SQLSTATE: \w+)?\.?$", line)
        if m and ("step " in m.group(1) or "column '" in m.group(1) or "target '" in m.group(1)):
            return LedgerflowError(m.group(1))
    return e


def main(argv=None):
    """`ledgerflow_spark.py score|train`: runs the context's task and writes task-result.json in the
    attempt folder; exits 1 (and reports `closed` with the exception) on failure."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) != 1 or argv[0] not in ("score", "train"):
        sys.stderr.write("usage: spark-submit --py-files ledgerflow_spark.py ledgerflow_spark.py score|train\n")
        return 2
    kind = argv[0]
    try:
        ctx = context()
        task = ctx.get("task")
        if not isinstance(task, dict) or task.get("kind") != kind:
            raise LedgerflowError("the run context's task is %s, not a %s task; run `ledgerflow_spark.py %s` for it"
                                  % (json.dumps(task.get("kind") if isinstance(task, dict) else task), kind,
                                     task.get("kind") if isinstance(task, dict) else "with a task"))
        from pyspark.sql import SparkSession
        # The application keeps the name spark-submit gave it (the attempt's idempotency key: how
        # the engine finds it on a standalone master after a restart).
        spark = SparkSession.builder.getOrCreate()
        _emit("report_custom_message", {"payload": {"ledgerflow": "application", "values": {"id": spark.sparkContext.applicationId}}})
        log("ledgerflow_spark %s: starting" % kind)
        result = score(spark, task) if kind == "score" else train(spark, task)
        folder = ctx.get("attempt_folder") or os.path.dirname(os.path.abspath(os.environ.get("LEDGERFLOW_CONTEXT", ".")))
        _write_json(os.path.join(folder, "task-result.json"), result)
        log("ledgerflow_spark %s: done" % kind)
        _close()
        spark.stop()
        return 0
    except Exception as e:  # noqa: BLE001
        e = _user_error(e)
        sys.stderr.write("\nledgerflow_spark %s: %s\n" % (kind, e))
        sys.stderr.flush()
        _messages["exception"] = e
        _close(e)
        return 1


if __name__ == "__main__":
    sys.exit(main())
