"""ZStackConnection and ClusterZStackConnection: their models, their CRDs and their samples.

The CRDs are rendered by crdgen from ``resources.connection`` (file-level and structural checks
for every kind are in test_crdgen.py). CEL rules are evaluated with cel-python, since the local
v1.20 API server drops them; the samples in deploy/samples/tenancy/ are checked against the
generated schemas with a small structural-schema validator (types, required fields, patterns,
bounds, unknown fields) after the API server's defaulting.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import celpy
import pytest
import yaml
from celpy.adapter import json_to_cel
from pydantic import ValidationError
from zstack_operator import crdgen
from zstack_operator import resources as r

ROOT = Path(__file__).resolve().parents[2]
TENANCY_SAMPLES = ROOT / "deploy" / "samples" / "tenancy"
KINDS = [r.CONNECTION_KIND, r.CLUSTER_CONNECTION_KIND]
MODELS: dict[str, type[r.ZStackConnection | r.ClusterZStackConnection]] = {
    r.CONNECTION_KIND: r.ZStackConnection,
    r.CLUSTER_CONNECTION_KIND: r.ClusterZStackConnection,
}
SPEC = {"endpoint": "https://zstack.example.com", "credentialsSecretRef": {"name": "login"}}
CLUSTER_SPEC = {**SPEC, "allowedNamespaces": ["team-a"]}


def _version(kind: str) -> dict[str, Any]:
    (version,) = crdgen.build_crd(kind)["spec"]["versions"]
    assert isinstance(version, dict)
    return version


def _root(kind: str) -> dict[str, Any]:
    root: dict[str, Any] = _version(kind)["schema"]["openAPIV3Schema"]
    return root


# --- a structural-schema validator, as the API server applies one -------------------------------


def defaulted(schema: dict[str, Any], value: Any) -> Any:
    """``value`` with the schema's defaults filled in where fields are absent."""
    if isinstance(value, dict) and "properties" in schema:
        out = dict(value)
        for name, sub in schema["properties"].items():
            if name not in out and "default" in sub:
                out[name] = sub["default"]
            if name in out:
                out[name] = defaulted(sub, out[name])
        return out
    if isinstance(value, list) and "items" in schema:
        return [defaulted(schema["items"], v) for v in value]
    return value


def violations(schema: dict[str, Any], value: Any, path: str = "") -> list[str]:
    """What the API server's schema validation (without CEL) would refuse in ``value``."""
    kind, where = schema.get("type"), path or "<root>"
    checks = {
        "object": isinstance(value, dict),
        "array": isinstance(value, list),
        "string": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
    }
    if not checks[str(kind)]:
        return [f"{where}: not a {kind}"]
    out: list[str] = []
    if kind == "object":
        props = schema.get("properties", {})
        if props:  # the API server prunes unknown fields; kubectl --validate=strict refuses them
            out += [f"{path}.{k}: unknown field" for k in value if k not in props]
        out += [f"{path}.{k}: required" for k in schema.get("required", []) if k not in value]
        for name, sub in props.items():
            if name in value:
                out += violations(sub, value[name], f"{path}.{name}")
    elif kind == "array":
        if len(value) < schema.get("minItems", 0) or len(value) > schema.get("maxItems", 1e9):
            out.append(f"{where}: {len(value)} items")
        if schema.get("x-kubernetes-list-type") == "set" and len(set(value)) != len(value):
            out.append(f"{where}: duplicates in a set")
        for i, item in enumerate(value):
            out += violations(schema["items"], item, f"{path}[{i}]")
    elif kind == "string":
        if not schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", 1e9):
            out.append(f"{where}: length {len(value)}")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            out.append(f"{where}: does not match {schema['pattern']}")
        if "enum" in schema and value not in schema["enum"]:
            out.append(f"{where}: not one of {schema['enum']}")
    elif kind == "integer" and not (
        schema.get("minimum", -1e18) <= value <= schema.get("maximum", 1e18)
    ):
        out.append(f"{where}: {value} out of bounds")
    return out


def cel_failures(schema: dict[str, Any], value: Any, path: str = "") -> list[str]:
    """The messages of every CEL rule below ``schema`` that ``value`` breaks."""
    out = []
    for rule in schema.get("x-kubernetes-validations", []):
        if not _evaluate(rule["rule"], value):
            out.append(f"{path or '<root>'}: {rule['message']}")
    if isinstance(value, dict):
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                out += cel_failures(sub, value[name], f"{path}.{name}")
    return out


def _evaluate(rule: str, value: Any) -> bool:
    env = celpy.Environment()
    return bool(env.program(env.compile(rule)).evaluate({"self": json_to_cel(value)}))


def admitted(kind: str, obj: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """(the object after defaulting, every refusal the API server would give on 1.25+)."""
    root = _root(kind)
    obj = defaulted(root, obj)
    return obj, violations(root, obj) + cel_failures(root, obj)


# --- the CRDs around the schemas --------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "plural", "short", "scope"),
    [
        ("ZStackConnection", "zstackconnections", "zsconn", "Namespaced"),
        ("ClusterZStackConnection", "clusterzstackconnections", "czsconn", "Cluster"),
    ],
)
def test_names_scope_and_subresources(kind: str, plural: str, short: str, scope: str) -> None:
    crd = crdgen.build_crd(kind)
    assert crd["metadata"] == {"name": f"{plural}.ai.zstack.io"}
    assert crd["spec"]["group"] == "ai.zstack.io"
    assert crd["spec"]["scope"] == scope
    assert crd["spec"]["names"] == {
        "kind": kind,
        "listKind": f"{kind}List",
        "plural": plural,
        "singular": plural[:-1],
        "shortNames": [short],
        "categories": ["zstack"],
    }
    version = _version(kind)
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert version["name"] == r.VERSION
    assert version["subresources"] == {"status": {}}


@pytest.mark.parametrize("kind", KINDS)
def test_printer_columns(kind: str) -> None:
    columns = {
        c["name"]: (c["type"], c["jsonPath"], c.get("priority", 0))
        for c in _version(kind)["additionalPrinterColumns"]
    }
    ready = '.status.conditions[?(@.type=="Ready")]'
    expected = {
        "READY": ("string", f"{ready}.status", 0),
        "ENDPOINT": ("string", ".spec.endpoint", 0),
        "VERSION": ("string", ".status.zstackVersion", 0),
        "ACCOUNT": ("string", ".status.account", 0),
        "USED BY": ("integer", ".status.usedBy", 0),
        "AGE": ("date", ".metadata.creationTimestamp", 0),
        "REASON": ("string", f"{ready}.reason", 1),
        "LAST CHECKED": ("date", ".status.lastChecked", 1),
    }
    if kind == r.CLUSTER_CONNECTION_KIND:
        expected["NAMESPACES"] = ("string", ".spec.allowedNamespaces", 1)
    assert columns == expected
    assert list(columns)[:6] == ["READY", "ENDPOINT", "VERSION", "ACCOUNT", "USED BY", "AGE"]


# --- spec schema ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_spec_fields_limits_and_defaults(kind: str) -> None:
    spec = _root(kind)["properties"]["spec"]
    p = spec["properties"]
    common = [
        "endpoint",
        "credentialsSecretRef",
        "caBundle",
        "insecureSkipTLSVerify",
        "allowInsecureHTTP",
        "maxInFlight",
        "allowAdoption",
        "timeZone",
    ]
    cluster = kind == r.CLUSTER_CONNECTION_KIND
    assert list(p) == common + (["allowedNamespaces"] if cluster else [])
    assert spec["required"] == ["endpoint", "credentialsSecretRef"] + (
        ["allowedNamespaces"] if cluster else []
    )
    assert (p["endpoint"]["pattern"], p["endpoint"]["maxLength"]) == ("^https?://", 2048)
    ref = p["credentialsSecretRef"]
    assert ref["required"] == ["name"]
    assert ref["properties"]["name"]["maxLength"] == 253
    assert ref["properties"]["name"]["pattern"] == r.connection.DNS1123_SUBDOMAIN_PATTERN
    where = "the operator's namespace" if cluster else "this object's namespace"
    assert where in ref["description"]
    assert (p["caBundle"]["type"], p["caBundle"]["maxLength"]) == ("string", 65536)
    for flag in ("insecureSkipTLSVerify", "allowInsecureHTTP", "allowAdoption"):
        assert (p[flag]["type"], p[flag]["default"]) == ("boolean", False), flag
    assert p["maxInFlight"] == {
        "description": p["maxInFlight"]["description"],
        "type": "integer",
        "format": "int32",
        "minimum": 1,
        "maximum": 256,
        "default": 16,
    }
    assert spec["x-kubernetes-validations"] == [
        {
            "rule": "!self.endpoint.startsWith('http://') || self.allowInsecureHTTP",
            "message": r.INSECURE_HTTP_MESSAGE,
        }
    ]


def test_allowed_namespaces_schema() -> None:
    allowed = _root(r.CLUSTER_CONNECTION_KIND)["properties"]["spec"]["properties"][
        "allowedNamespaces"
    ]
    assert (allowed["minItems"], allowed["maxItems"]) == (1, 256)
    assert allowed["x-kubernetes-list-type"] == "set"
    assert allowed["items"]["maxLength"] == 63
    pattern = allowed["items"]["pattern"]
    for ok in ("*", "team-a", "a", "0abc", "x" * 63):
        assert re.search(pattern, ok), ok
    for bad in ("**", "Team-A", "-a", "a-", "a.b", "", "a*"):
        assert not re.search(pattern, bad), bad


@pytest.mark.parametrize(
    ("endpoint", "allow", "admitted_"),
    [
        ("https://zstack.example.com", False, True),
        ("https://zstack.example.com", True, True),
        ("http://10.0.0.5:8080", False, False),
        ("http://10.0.0.5:8080", True, True),
    ],
)
@pytest.mark.parametrize("kind", KINDS)
def test_cel_refuses_http_without_the_opt_in(
    kind: str, endpoint: str, allow: bool, admitted_: bool
) -> None:
    spec = {**(CLUSTER_SPEC if kind == r.CLUSTER_CONNECTION_KIND else SPEC), "endpoint": endpoint}
    if allow:
        spec["allowInsecureHTTP"] = True
    _, refused = admitted(kind, {"spec": spec})
    assert refused == ([] if admitted_ else [f".spec: {r.INSECURE_HTTP_MESSAGE}"])
    # The operator's runtime check says the same (Kubernetes < 1.25 drops the rule).
    model = MODELS[kind].model_validate({"spec": spec}).spec
    assert model.insecure_http_refused() is not admitted_


@pytest.mark.parametrize(
    ("allowed", "ok"),
    [
        (["*"], True),
        (["team-a", "team-b"], True),
        (["*", "team-a"], False),
        (["team-a", "*"], False),
    ],
)
def test_cel_keeps_star_alone(allowed: list[str], ok: bool) -> None:
    _, refused = admitted(
        r.CLUSTER_CONNECTION_KIND, {"spec": {**SPEC, "allowedNamespaces": allowed}}
    )
    assert (refused == []) is ok, refused
    if ok:
        r.ClusterZStackConnectionSpec.model_validate({**SPEC, "allowedNamespaces": allowed})
    else:
        with pytest.raises(ValidationError, match="must be the only entry"):
            r.ClusterZStackConnectionSpec.model_validate({**SPEC, "allowedNamespaces": allowed})


def test_schema_refuses_what_the_models_refuse() -> None:
    for spec in (
        {**SPEC, "endpoint": "zstack.example.com"},
        {**SPEC, "credentialsSecretRef": {"name": "Not_A_Name"}},
        {**SPEC, "maxInFlight": 0},
        {**SPEC, "maxInFlight": 257},
        {**SPEC, "maxInFlight": "8"},
        {**SPEC, "allowAdoption": "yes"},
        {**SPEC, "endpoint": "https://" + "a" * 2048},
        {**SPEC, "unknownField": 1},
        {"endpoint": SPEC["endpoint"]},
    ):
        _, refused = admitted(r.CONNECTION_KIND, {"spec": spec})
        assert refused, spec
        with pytest.raises(ValidationError):
            r.ZStackConnectionSpec.model_validate(spec)
    for allowed in ([], ["team-a", "team-a"], ["Team-A"], [f"ns-{i}" for i in range(257)]):
        spec = {**SPEC, "allowedNamespaces": allowed}
        assert admitted(r.CLUSTER_CONNECTION_KIND, {"spec": spec})[1], allowed
        with pytest.raises(ValidationError):
            r.ClusterZStackConnectionSpec.model_validate(spec)


# --- status schema --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_status_schema(kind: str) -> None:
    status = _root(kind)["properties"]["status"]
    props = status["properties"]
    assert list(props) == [
        "observedGeneration",
        "conditions",
        "zstackVersion",
        "account",
        "accountUuid",
        "lastChecked",
        "usedBy",
        "modelCenters",
        "modelCentersMessage",
    ]
    assert (props["usedBy"]["type"], props["usedBy"]["minimum"]) == ("integer", 0)
    centers = props["modelCenters"]
    assert (centers["type"], centers["maxItems"]) == ("array", r.MAX_MODEL_CENTERS)
    center = centers["items"]
    assert list(center["properties"]) == ["uuid", "name", "status", "url", "managementIp"]
    assert center["required"] == ["uuid"]
    assert center["properties"]["uuid"]["pattern"] == "^[0-9a-f]{32}$"
    limits = {k: v.get("maxLength") for k, v in center["properties"].items()}
    assert limits == {"uuid": 32, "name": 255, "status": 64, "url": 2048, "managementIp": 255}
    assert props["modelCentersMessage"]["maxLength"] == 512
    assert props["lastChecked"]["format"] == "date-time"
    assert props["accountUuid"]["pattern"] == "^[0-9a-f]{32}$"
    conditions = props["conditions"]
    assert conditions["x-kubernetes-list-type"] == "map"
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]
    items = conditions["items"]
    # The same Condition model as ModelService, described with the connections' vocabulary.
    model_service = crdgen.build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    ms_items = model_service["properties"]["status"]["properties"]["conditions"]["items"]
    assert {k: v for k, v in items.items() if k != "properties"} == {
        k: v for k, v in ms_items.items() if k != "properties"
    }
    assert list(items["properties"]) == list(ms_items["properties"])
    for field in ("status", "message", "lastTransitionTime", "observedGeneration"):
        assert items["properties"][field] == ms_items["properties"][field]
    for reason in r.ConnectionReason:
        assert reason.value in items["properties"]["reason"]["description"]
    assert "Synced" not in items["properties"]["type"]["description"]
    assert "Available" not in items["properties"]["reason"]["description"]
    assert "default" not in yaml.safe_dump(status), "status has no defaults"


# --- the models -----------------------------------------------------------------------------------


def test_spec_defaults_and_wire_names() -> None:
    spec = r.ZStackConnectionSpec.model_validate(SPEC)
    assert spec.manifest() == {
        **SPEC,
        "insecureSkipTLSVerify": False,
        "allowInsecureHTTP": False,
        "maxInFlight": 16,
        "allowAdoption": False,
    }
    by_name = r.ZStackConnectionSpec(
        endpoint="http://z:8080",
        credentials_secret_ref=r.SecretRef(name="s"),
        allow_insecure_http=True,
        insecure_skip_tls_verify=True,
    )
    assert by_name.manifest()["allowInsecureHTTP"] is True
    assert by_name.manifest()["insecureSkipTLSVerify"] is True
    assert not by_name.insecure_http_refused()


def test_offered_to() -> None:
    two = r.ClusterZStackConnectionSpec.model_validate(
        {**SPEC, "allowedNamespaces": ["team-a", "team-b"]}
    )
    assert two.offered_to("team-a")
    assert two.offered_to("team-b")
    assert not two.offered_to("team-c")
    every = r.ClusterZStackConnectionSpec.model_validate({**SPEC, "allowedNamespaces": ["*"]})
    assert every.offered_to("anything")


def test_status_round_trips_and_tolerates_unknown_fields() -> None:
    status = {
        "observedGeneration": 3,
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "Connected",
                "message": "logged in to ZStack 5.3.28 as account team-a",
                "lastTransitionTime": "2025-01-01T00:00:00Z",
                "observedGeneration": 3,
            }
        ],
        "zstackVersion": "5.3.28",
        "account": "team-a",
        "accountUuid": "0a1b2c3d4e5f40718293a4b5c6d7e8f9",
        "lastChecked": "2025-01-01T00:00:00Z",
        "usedBy": 2,
        "modelCenters": [
            {
                "uuid": "5b1a1e0c6c2d4c8fb1f0a3d2e4c6b8a9",
                "name": "default",
                "status": "Connected",
                "url": "http://127.0.0.1/model-center",
                "managementIp": "127.0.0.1",
            }
        ],
        "modelCentersMessage": "more than 32 model centers: the first ones by name are listed",
    }
    parsed = r.ConnectionStatus.model_validate({**status, "fromANewerOperator": True})
    assert parsed.manifest() == status
    obj = {"apiVersion": "ai.zstack.io/v1alpha1", "kind": "ZStackConnection", "spec": SPEC}
    assert admitted(r.CONNECTION_KIND, {**obj, "status": status})[1] == []
    with pytest.raises(ValidationError):
        r.ConnectionStatus.model_validate({**status, "lastChecked": "yesterday"})


def test_vocabulary() -> None:
    assert {str(reason) for reason in r.ConnectionReason} >= {
        "Connected",
        "LoginFailed",
        "SecretNotFound",
        "SecretInvalid",
        "Unreachable",
        "InsecureEndpoint",
        "InUse",
    }
    assert set(r.ConnectionReason) > r.CONNECTION_TERMINAL_REASONS
    transient = {"Connected", "Connecting", "SecretNotFound", "Unreachable", "InUse"}
    assert not transient & {str(reason) for reason in r.CONNECTION_TERMINAL_REASONS}
    assert [str(c) for c in r.CONNECTION_CONDITION_TYPES] == ["Ready", "Reconciling", "Stalled"]


# --- samples --------------------------------------------------------------------------------------


def _samples() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(TENANCY_SAMPLES.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def test_there_is_a_sample_of_each_kind_with_its_secret() -> None:
    kinds = [d["kind"] for d in _samples()]
    assert sorted(kinds) == sorted(["Secret", "Secret", *KINDS])
    secrets = {
        (d["metadata"].get("namespace"), d["metadata"]["name"]): d
        for d in _samples()
        if d["kind"] == "Secret"
    }
    for doc in _samples():
        if doc["kind"] == "Secret":
            assert doc["type"] == "Opaque"
            assert "data" not in doc, "placeholders go in stringData"
            assert tuple(doc["stringData"]) in (r.ACCOUNT_KEYS, r.ACCESS_KEY_KEYS)
            assert all(v.startswith("REPLACE-WITH-") for v in doc["stringData"].values())
            continue
        # A ZStackConnection's Secret is beside it; a cluster one's in the operator's namespace.
        namespace = "zstack-system" if doc["kind"] == r.CLUSTER_CONNECTION_KIND else None
        assert (namespace, doc["spec"]["credentialsSecretRef"]["name"]) in secrets


@pytest.mark.parametrize("kind", KINDS)
def test_sample_validates_against_the_generated_crd_and_the_models(kind: str) -> None:
    (sample,) = [d for d in _samples() if d["kind"] == kind]
    assert sample["apiVersion"] == r.API_VERSION
    stored, refused = admitted(kind, sample)
    assert refused == []
    obj = MODELS[kind].model_validate(sample)
    # What the API server stores after defaulting is exactly what the models produce.
    assert obj.manifest() == stored
    assert not obj.spec.insecure_http_refused()
    assert ("namespace" in sample["metadata"]) is False, "applied with -n, or cluster-scoped"


def test_tenancy_samples_stay_out_of_the_demo_directory() -> None:
    """The demo applies deploy/samples/ (not recursively): a connection there would need a
    Secret the demo does not make, and a ClusterZStackConnection no namespace at all."""
    top = ROOT / "deploy" / "samples"
    top_kinds = {yaml.safe_load(p.read_text())["kind"] for p in top.glob("*.yaml")}
    assert top_kinds == {r.KIND}
