"""The gradient-boosting libraries' own model files, and MLflow model folders.

Native files hold trees and parameters, no code, so they load without pickle trust:

============  =================================  ==============================================
library       file (from)                        recognised by
============  =================================  ==============================================
LightGBM      model text (``booster.save_model``) ``tree\\nversion=`` at the start
XGBoost       ``.json`` / ``.ubj`` (``save_model``) JSON or UBJSON whose first key is ``learner``
CatBoost      ``.cbm`` (``save_model``)            the ``CBM1`` magic
============  =================================  ==============================================

Each is loaded into the library's scikit-learn-API class (regressor or classifier, read from the
objective in the file) so that scikit-learn's ``partial_dependence`` and ``permutation_importance``
accept it. Classes are read from the file where it keeps them (CatBoost class names, XGBoost's
``scikit_learn`` attribute); LightGBM and plain XGBoost boosters only know class *indices* 0..k-1.

An MLflow model folder is a directory with an ``MLmodel`` YAML file: its ``flavors`` name the
library and the model file inside the folder. Pickle and skops files found there go through the
same ``--no-pickle`` / ``--sha256`` / ``--trust`` rules as any model file.
"""

from __future__ import annotations

import ctypes
import json
import re
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from inspectcli.errors import ModelLoadError
from inspectcli.gbm import LIBRARIES

#: native format -> library
NATIVE_FORMATS = {
    "lightgbm-text": "lightgbm",
    "xgboost-json": "xgboost",
    "xgboost-ubj": "xgboost",
    "catboost-cbm": "catboost",
}

#: file name suffix -> the library whose own file it names (.txt and .json are anyone's)
NATIVE_SUFFIXES = {
    ".lgb": "lightgbm",
    ".ubj": "xgboost",
    ".cbm": "catboost",
    ".cb": "catboost",
}

LIGHTGBM_CLASSIFIER_OBJECTIVES = ("binary", "multiclass", "multiclassova")
XGBOOST_CLASSIFIER_OBJECTIVES = ("binary:logistic", "binary:hinge", "multi:softprob", "multi:softmax")
CATBOOST_CLASSIFIER_LOSSES = ("Logloss", "CrossEntropy", "MultiClass", "MultiClassOneVsAll")


def sniff_native(head: bytes) -> str | None:
    """The native GBM format these leading bytes belong to, or None."""
    if head.startswith((b"tree\nversion=", b"tree\r\nversion=")):
        return "lightgbm-text"
    if head.startswith(b"CBM1"):
        return "catboost-cbm"
    if head.startswith(b"{") and re.match(rb"\{[iUIlL].{0,8}learner", head[:24], flags=re.DOTALL):
        return "xgboost-ubj"
    if re.match(rb'\s*\{\s*"learner"\s*:', head) and not _XGBOOST_CONFIG.match(head):
        return "xgboost-json"
    return None


#: ``save_config()``: the learner's parameters without its trees
_XGBOOST_CONFIG = re.compile(rb'\s*\{\s*"learner"\s*:\s*\{\s*"generic_param"')

_SAVE = {
    "lightgbm": "save it with booster.save_model('model.txt') (or joblib.dump of the model)",
    "xgboost": "save it with model.save_model('model.json') (or joblib.dump of the model)",
    "catboost": "save it with model.save_model('model.cbm') (or joblib.dump of the model)",
}

_NOT_LOADABLE = "which {title} cannot load back"
_NOT_LOADED = "which inspect does not load"

#: (leading-bytes pattern, what the file is, why not, library): exports that are not model files
_EXPORTS = [
    (
        rb'\s*\{\s*"name"\s*:\s*"tree"\s*,\s*"version"',
        "a LightGBM JSON dump (dump_model)",
        _NOT_LOADABLE,
        "lightgbm",
    ),
    (_XGBOOST_CONFIG.pattern, "an XGBoost configuration (save_config), no trees", _NOT_LOADABLE, "xgboost"),
    (rb'\s*\[\s*\{\s*"nodeid"', "an XGBoost tree dump (dump_model / get_dump)", _NOT_LOADABLE, "xgboost"),
    (
        rb"\s*(booster\[0\]:\s*)?0:(\[|leaf=)",
        "an XGBoost tree dump (dump_model / get_dump)",
        _NOT_LOADABLE,
        "xgboost",
    ),
    (
        rb'\s*\{\s*"(features_info|model_info|oblivious_trees)"',
        "a CatBoost JSON export",
        _NOT_LOADED,
        "catboost",
    ),
    (
        rb"[\s\S]{0,400}(class catboost_model|struct CatboostModel)",
        "a CatBoost model exported as code",
        _NOT_LOADABLE,
        "catboost",
    ),
]


def describe_export(head: bytes) -> tuple[str, str] | None:
    """(what the file is, how to save a loadable one) for exports of the GBM libraries, else None.

    Tree dumps, configurations and code or ONNX exports hold no model the library can load back;
    CatBoost's JSON export can be, but only from a file by name: ``.cbm`` is its model file.
    """
    for pattern, what, why, library in _EXPORTS:
        if re.match(pattern, head):
            title = LIBRARIES[library].title
            return f"holds {what}, {why.format(title=title)}", _SAVE[library]
    if head[:1] == b"\x08" and head[2:3] == b"\x12" and b"CatBoost" in head[:64]:
        return f"is a CatBoost ONNX export, {_NOT_LOADED}", _SAVE["catboost"]
    if head[:1] == b"\x08" and head[2:3] == b"\x12" and b"onnx" in head.lower():
        return f"is an ONNX model, {_NOT_LOADED}", "give the model in its library's own format or as joblib"
    return None


def _import(library: str, path: str, fmt: str) -> Any:
    import importlib

    lib = LIBRARIES[library]
    try:
        return importlib.import_module(library)
    except ImportError as exc:
        raise ModelLoadError(
            f"model file '{path}' is a {lib.title} model ({fmt}), and {lib.module} is not installed",
            lib.pip,
        ) from exc


def _damaged(path: str, fmt: str, exc: BaseException) -> ModelLoadError:
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return ModelLoadError(
        f"model file '{path}' is a damaged {fmt} file ({detail[:200]})",
        "save the model again with the library's save_model",
    )


def load_native(data: bytes, fmt: str, path: str) -> Any:
    """Load a native model file's bytes into the library's scikit-learn-API class.

    Parameters
    ----------
    data : bytes
        The whole file.
    fmt : str
        One of :data:`NATIVE_FORMATS` (from :func:`sniff_native`).
    path : str
        The file's name, for messages.

    Returns
    -------
    LGBMModel, XGBModel or CatBoost estimator
    """
    from inspectcli.loading.isolate import survives_in_child

    library = NATIVE_FORMATS[fmt]
    module = _import(library, path, fmt)
    loader = {"lightgbm": _load_lightgbm, "xgboost": _load_xgboost}.get(library, _load_catboost)

    # The libraries parse in C++, which aborts or segfaults on some damaged files: parse in a
    # child process first, so that a crash is this error rather than the end of the run.
    def parse() -> Any:
        with _single_threaded(library, module):
            return loader(module, data, path, fmt)

    def parse_and_predict() -> None:
        # (a file that loads can still crash at its first prediction: CatBoost .cbm and XGBoost
        # UBJ with changed bytes segfault there)
        with _single_threaded(library, module):
            _try_predict(loader(module, data, path, fmt))

    crashed = survives_in_child(parse_and_predict, timeout=60 + len(data) / 1e6)  # + 1 s per MB
    if crashed is not None:
        raise _damaged(path, fmt, RuntimeError(f"{LIBRARIES[library].title} crashed reading it: {crashed}"))
    return parse()


@contextmanager
def _single_threaded(library: str, module: Any) -> Iterator[None]:
    """One OpenMP thread while a model file is parsed, in the child and here alike.

    A damaged XGBoost file that raises a clean error on one thread segfaulted on several (the
    error thrown inside a parallel loop), so the child's verdict holds only for the same thread
    count; and a forked child lacks the threads of an OpenMP pool the parent started (LightGBM's
    own loop waited for them forever).
    """
    from threadpoolctl import threadpool_limits

    lib = getattr(getattr(module, "basic", None), "_LIB", None)
    lightgbm = library == "lightgbm" and hasattr(lib, "LGBM_SetMaxThreads")
    before = ctypes.c_int(-1)
    if lightgbm:
        if hasattr(lib, "LGBM_GetMaxThreads"):
            lib.LGBM_GetMaxThreads(ctypes.byref(before))
        lib.LGBM_SetMaxThreads(ctypes.c_int(1))
    try:
        with threadpool_limits(1, user_api="openmp"):
            yield
    finally:
        if lightgbm:
            lib.LGBM_SetMaxThreads(before)


def _try_predict(model: Any) -> None:
    """Predict one row of zeros (errors are the parent's to report; only a crash matters)."""
    import numpy as np

    from inspectcli.gbm import n_features

    n = n_features(model) or 0
    try:
        model.predict(np.zeros((1, n)))
    except Exception:
        pass


def saved_library_version(estimator: Any, data: bytes, native_format: str | None) -> str | None:
    """The LightGBM / XGBoost / CatBoost version that saved the model, where the file records it.

    XGBoost files carry a ``version`` field; CatBoost models (native or pickled) their build
    information; LightGBM model text and pickles of LightGBM / XGBoost models record none.
    """
    from inspectcli.gbm import saved_version_of_object
    from inspectcli.introspect import unwrap_final

    if native_format in ("xgboost-json", "xgboost-ubj"):
        return _xgboost_version(data, native_format)
    return saved_version_of_object(unwrap_final(estimator))


def _load_lightgbm(lgb: Any, data: bytes, path: str, fmt: str) -> Any:
    import numpy as np

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _damaged(path, fmt, exc) from exc
    if "\nend of trees" not in text:
        raise _damaged(path, fmt, ValueError("no 'end of trees' line: the file is cut short"))
    try:
        booster = lgb.Booster(model_str=text)
    except Exception as exc:  # LightGBMError, ValueError on a damaged text
        raise _damaged(path, fmt, exc) from exc
    match = re.search(r"^objective=(\S+)", text, flags=re.MULTILINE)
    objective = match.group(1) if match else "regression"
    if objective in LIGHTGBM_CLASSIFIER_OBJECTIVES:
        model = lgb.LGBMClassifier(objective=objective)
        n_classes = 2 if objective == "binary" else int(re.search(r"num_class=(\d+)", text).group(1))
        from lightgbm.sklearn import _LGBMLabelEncoder

        model._le = _LGBMLabelEncoder().fit(np.arange(n_classes))
        model._classes = model._le.classes_
        model._n_classes = n_classes
        model._class_map = {int(c): int(c) for c in model._classes}
    else:
        model = lgb.LGBMRegressor(objective=objective)
    model._Booster = booster
    model._n_features = booster.num_feature()
    model._n_features_in = booster.num_feature()
    names = booster.feature_name()
    model._fitted_with_feature_names = names != [f"Column_{i}" for i in range(len(names))]
    model._objective = objective
    model.fitted_ = True
    return model


def _xgboost_version(data: bytes, fmt: str) -> str | None:
    if fmt == "xgboost-json":
        try:
            version = json.loads(data).get("version")
        except (ValueError, AttributeError):
            return None
        return ".".join(str(v) for v in version) if isinstance(version, list) else None
    tail = data[-64:]
    at = tail.rfind(b"\x07version[")
    if at < 0:
        return None
    body = tail[at + len(b"\x07version[") :]
    sizes = {b"i": (1, ">b"), b"U": (1, ">B"), b"I": (2, ">h"), b"l": (4, ">i"), b"L": (8, ">q")}
    parts: list[int] = []
    try:
        if body[:1] == b"#":  # [#L<count> then typed values
            body = body[1 + 1 + sizes[body[1:2]][0] :]
        while body and body[:1] in sizes and len(parts) < 3:
            size, code = sizes[body[:1]]
            parts.append(struct.unpack(code, body[1 : 1 + size])[0])
            body = body[1 + size :]
    except (KeyError, struct.error):
        return None
    return ".".join(map(str, parts)) if len(parts) == 3 else None


def _load_xgboost(xgb: Any, data: bytes, path: str, fmt: str) -> Any:
    booster = xgb.Booster()
    try:
        booster.load_model(bytearray(data))
        config = json.loads(booster.save_config())
    except Exception as exc:  # XGBoostError on a damaged file
        raise _damaged(path, fmt, exc) from exc
    objective = str(config.get("learner", {}).get("objective", {}).get("name", ""))
    kind = None
    try:
        attr = booster.attr("scikit_learn")
        if attr:
            kind = json.loads(attr).get("_estimator_type")
    except Exception:
        kind = None
    if kind is None:
        kind = "classifier" if objective in XGBOOST_CLASSIFIER_OBJECTIVES else "regressor"
    cls = xgb.XGBClassifier if kind == "classifier" else xgb.XGBRegressor
    model = cls()
    try:
        model.load_model(bytearray(data))
    except Exception as exc:
        raise _damaged(path, fmt, exc) from exc
    return model


def _load_catboost(cb: Any, data: bytes, path: str, fmt: str) -> Any:
    generic = cb.CatBoost()
    try:
        generic.load_model(blob=data)
        loss = str(generic.get_all_params().get("loss_function", ""))
    except Exception as exc:  # CatBoostError on a damaged file
        raise _damaged(path, fmt, exc) from exc
    cls = cb.CatBoostClassifier if loss.split(":")[0] in CATBOOST_CLASSIFIER_LOSSES else cb.CatBoostRegressor
    model = cls()
    model.load_model(blob=data)
    return model


# ---------------------------------------------------------------------------------------------
# MLflow model folders

#: flavours we load, in order of preference, with the MLmodel key naming the model file
MLFLOW_FLAVOURS = {
    "lightgbm": "data",
    "xgboost": "data",
    "catboost": "data",
    "sklearn": "pickled_model",
}


def is_mlflow_folder(path: str | Path) -> bool:
    """True for a directory holding an ``MLmodel`` file (a path that cannot be used is not one)."""
    p = Path(path)
    try:
        return p.is_dir() and (p / "MLmodel").is_file()
    except (OSError, ValueError):  # ENAMETOOLONG, embedded NUL, ...: the file reader says why
        return False


def mlflow_model_file(folder: str | Path) -> tuple[Path, str, dict[str, Any]]:
    """The model file an MLflow folder's ``MLmodel`` points to.

    Returns
    -------
    file : Path
        The model file inside the folder.
    flavour : str
        'lightgbm', 'xgboost', 'catboost' or 'sklearn'.
    conf : dict
        That flavour's section of ``MLmodel`` (versions, serialization format, model class).
    """
    folder = Path(folder)
    doc = _read_mlmodel(folder)
    flavours = doc.get("flavors") if isinstance(doc, dict) else None
    if not isinstance(flavours, dict):
        raise ModelLoadError(
            f"MLflow model folder '{folder}': its MLmodel file has no 'flavors' section",
            "save the model again with mlflow's save_model",
        )
    for name, key in MLFLOW_FLAVOURS.items():
        conf = flavours.get(name)
        if not isinstance(conf, dict) or not conf.get(key):
            continue
        if not isinstance(conf[key], str) or "\0" in conf[key]:
            raise ModelLoadError(
                f"MLflow model folder '{folder}': its {name} flavour's '{key}' is not a file name",
                "save the model again with mlflow's save_model",
            )
        file = (folder / conf[key]).resolve()
        if folder.resolve() not in file.parents:
            raise ModelLoadError(
                f"MLflow model folder '{folder}': its {name} flavour points outside the folder",
                "give a folder written by mlflow's save_model",
            )
        if file.is_dir():  # older layouts keep the file one level down
            inner = sorted(f for f in file.iterdir() if f.is_file())
            if len(inner) != 1:
                raise ModelLoadError(
                    f"MLflow model folder '{folder}': its {name} flavour names the directory"
                    f" '{conf[key]}', which holds {len(inner)} files, not one model file",
                    "copy the whole folder mlflow wrote",
                )
            file = inner[0]
        if not file.is_file():
            raise ModelLoadError(
                f"MLflow model folder '{folder}': its {name} flavour names '{conf[key]}', which is missing",
                "copy the whole folder mlflow wrote",
            )
        return file, name, conf
    found = ", ".join(sorted(flavours)) or "none"
    raise ModelLoadError(
        f"MLflow model folder '{folder}' has no flavour inspect can load (it has: {found})",
        "save the model with mlflow.sklearn, mlflow.lightgbm, mlflow.xgboost or mlflow.catboost",
    )


def mlflow_saved_version(flavour: str, conf: dict[str, Any]) -> str | None:
    """The library version the MLmodel file says saved the model (a text or number, else None)."""
    key = {"lightgbm": "lgb_version", "xgboost": "xgb_version", "catboost": "catboost_version"}.get(flavour)
    value = conf.get(key) if key else None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    return str(value)[:100] if value else None


#: An MLmodel file is a few hundred bytes of YAML; more than this is not one mlflow wrote.
MLMODEL_MAX_BYTES = 1 << 20
#: Values an MLmodel document may stand for, aliases expanded.
MLMODEL_MAX_NODES = 100_000


def _expanded_size(node: Any, sizes: dict[int, int | None]) -> int:
    """How many values ``node`` stands for with its aliases expanded (up to MLMODEL_MAX_NODES + 1)."""
    import yaml

    key = id(node)
    if key in sizes:
        if sizes[key] is None:  # an alias inside its own anchor: a cycle
            return MLMODEL_MAX_NODES + 1
        return sizes[key]  # type: ignore[return-value]
    sizes[key] = None
    children: list[Any] = []
    if isinstance(node, yaml.MappingNode):
        children = [n for pair in node.value for n in pair]
    elif isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    total = 1
    for child in children:
        total += _expanded_size(child, sizes)
        if total > MLMODEL_MAX_NODES:
            break
    sizes[key] = min(total, MLMODEL_MAX_NODES + 1)
    return sizes[key]  # type: ignore[return-value]


def _read_mlmodel(folder: Path) -> Any:
    """The YAML document of ``folder/MLmodel``, bounded in bytes and in values.

    An alias shares one node many times, so nested aliases (a "billion laughs") make a few hundred
    bytes stand for 10^9 values, which any walk or ``str()`` of the document spends memory and time
    on: the document is composed, its size counted with aliases expanded, and only then built.
    """
    import yaml

    unreadable = (
        f"MLflow model folder '{folder}' has an unreadable MLmodel file",
        "save the model again with mlflow's save_model",
    )
    try:
        with open(folder / "MLmodel", "rb") as fh:
            raw = fh.read(MLMODEL_MAX_BYTES + 1)
        if len(raw) > MLMODEL_MAX_BYTES:
            raise ModelLoadError(f"{unreadable[0]} (larger than 1 MB)", unreadable[1])
        loader = yaml.SafeLoader(raw.decode("utf-8"))
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            if _expanded_size(node, {}) > MLMODEL_MAX_NODES:
                raise ModelLoadError(
                    f"{unreadable[0]} (its aliases expand to over {MLMODEL_MAX_NODES:,} values)",
                    unreadable[1],
                )
            return loader.construct_document(node)
        finally:
            loader.dispose()
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError) as exc:
        raise ModelLoadError(f"{unreadable[0]} ({type(exc).__name__})", unreadable[1]) from exc
