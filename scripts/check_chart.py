"""Renders helm/crm with Helm's own engine (helm-python-sdk, no helm binary), lints it, and
validates every rendered manifest against the Kubernetes JSON schemas (kubernetes-validate).

Exits non-zero on any finding. Prints one line per check and a closing count.
"""

import pathlib
import sys

import helm_python as helm
import kubernetes_validate
import kubernetes_validate.utils as kv
import yaml

CHART = pathlib.Path(__file__).resolve().parent.parent / "helm" / "crm"
KUBE_VERSIONS = ["1.30.0", "1.33.0"]

PRODUCTION = {
    "secret": {"crmSecret": "x" * 40, "bootstrapAdminPassword": "change-me-please"},
    "redis": {"url": "redis://redis:6379"},
    "postgresql": {
        "gatewayUrl": "postgres://crm:pw@db:5432/crm_gateway",
        "contactsUrl": "postgres://crm:pw@db:5432/crm_contacts",
        "salesUrl": "postgres://crm:pw@db:5432/crm_sales",
        "servicedeskUrl": "postgres://crm:pw@db:5432/crm_servicedesk",
    },
}
OWN_KEYS = {
    "secret": {
        "targetKeys": {
            "gateway": "crm1:gateway:a:b:c",
            "contacts": "crm1:contacts:a:b:c:d",
            "sales": "crm1:sales:a:b:c:d",
            "servicedesk": "crm1:servicedesk:a:b:c:d",
        },
        "bootstrapAdminPassword": "change-me-please",
    },
    "redis": {"url": "redis://redis:6379"},
    "postgresql": PRODUCTION["postgresql"],
}
EXISTING_SECRET = {
    "secret": {"create": False, "existingSecret": "crm-credentials"},
    "migrations": {"enabled": False},
    "networkPolicy": {"enabled": False},
    "targets": {"contacts": {"autoscaling": {"enabled": False}, "replicas": 3}},
}

passed = 0
failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok    {name}")
    else:
        failed += 1
        print(f"FAIL  {name}: {detail}")


def documents(rendered):
    for path, text in sorted(rendered.items()):
        for doc in yaml.safe_load_all(text):
            if doc:
                yield path, doc


def validate(label, values):
    chart = helm.Chart.load(str(CHART))
    rendered = chart.render(values, name="crm", namespace="crm", is_install=True)
    docs = list(documents(rendered))
    kinds = {}
    for path, doc in docs:
        kinds.setdefault(doc["kind"], []).append(doc)
        for version in KUBE_VERSIONS:
            try:
                kv.validate(doc, version, strict=True)
                ok, detail = True, ""
            except kubernetes_validate.ValidationError as error:
                ok, detail = False, error.message
            except Exception as error:  # an unknown kind or version is a finding too
                ok, detail = False, repr(error)
            check(f"{label}: {doc['kind']}/{doc['metadata']['name']} valid for {version}", ok, detail)
    return kinds


kinds = validate("production values", PRODUCTION)
for kind in ["Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Job", "ConfigMap", "Secret", "NetworkPolicy"]:
    check(f"renders a {kind}", kind in kinds)
deployments = {d["metadata"]["name"]: d for d in kinds.get("Deployment", [])}
check("one Deployment per target", sorted(deployments) == ["crm-contacts", "crm-gateway", "crm-sales", "crm-servicedesk"], sorted(deployments))
for kind in ["Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy"]:
    names = sorted(d["metadata"]["name"] for d in kinds.get(kind, []))
    check(f"sales has its {kind}", any(n.endswith("sales") for n in names), names)
migrated = [j["spec"]["template"]["spec"]["containers"][0]["args"] for j in kinds.get("Job", [])]
check("a migration Job migrates sales", ["migrate", "--target", "sales"] in migrated, migrated)
check("a migration Job migrates the service desk", ["migrate", "--target", "servicedesk"] in migrated, migrated)
for name, deployment in deployments.items():
    spec = deployment["spec"]["template"]["spec"]
    container = spec["containers"][0]
    port = container["ports"][0]["containerPort"]
    check(f"{name} probes are native gRPC on its port", all(
        container[p].get("grpc", {}).get("port") == port for p in ["readinessProbe", "livenessProbe", "startupProbe"]
    ))
    check(f"{name} runs non-root with a read-only root filesystem",
          spec["securityContext"]["runAsNonRoot"] and container["securityContext"]["readOnlyRootFilesystem"])
    check(f"{name} runs `crm serve --target`", container["args"][:2] == ["serve", "--target"])
    mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    check(f"{name} has a writable scratch /tmp", "emptyDir" in volumes.get(mounts.get("/tmp"), {}), mounts)
configmap = kinds["ConfigMap"][0]["data"]
check("the gateway finds contacts through the ConfigMap", configmap.get("CRM_CONTACTS_URL") == "http://crm-contacts:50052", configmap)
check("the gateway finds sales through the ConfigMap", configmap.get("CRM_SALES_URL") == "http://crm-sales:50053", configmap)
check("the gateway finds the service desk through the ConfigMap", configmap.get("CRM_SERVICEDESK_URL") == "http://crm-servicedesk:50054", configmap)

without_sales = {**PRODUCTION, "postgresql": {k: v for k, v in PRODUCTION["postgresql"].items() if k != "salesUrl"}}
try:
    helm.Chart.load(str(CHART)).render(without_sales, name="crm", namespace="crm")
    check("an enabled target without its database is refused", False, "rendered without salesUrl")
except helm.HelmError as error:
    check("an enabled target without its database is refused", "postgresql.salesUrl is required" in str(error), str(error))
disabled = {**without_sales, "targets": {"sales": {"enabled": False}}}
names = sorted(d["metadata"]["name"] for _, d in documents(helm.Chart.load(str(CHART)).render(disabled, name="crm", namespace="crm")) if d["kind"] == "Deployment")
check("a disabled target renders nothing and needs no database", names == ["crm-contacts", "crm-gateway", "crm-servicedesk"], names)

def key_env(deployment):
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    return {e["name"]: e.get("valueFrom", {}).get("secretKeyRef", {}).get("key") for e in env}


for name, deployment in deployments.items():
    check(f"{name} gets the master secret by default", key_env(deployment).get("CRM_SECRET") == "CRM_SECRET")

kinds = validate("own keys per target", OWN_KEYS)
secret = kinds["Secret"][0]["stringData"]
check("no master secret in the Secret when every target has its keys", "CRM_SECRET" not in secret, sorted(secret))
for deployment in kinds["Deployment"]:
    target = deployment["metadata"]["name"].removeprefix("crm-")
    env = key_env(deployment)
    check(f"{target} holds only its own keys",
          env.get("CRM_TARGET_KEYS") == f"{target}-keys" and "CRM_SECRET" not in env, env)
    check(f"the Secret carries {target}'s keys", secret.get(f"{target}-keys", "").startswith(f"crm1:{target}:"))

kinds = validate("existing secret", EXISTING_SECRET)
check("no Secret when an existing one is named", "Secret" not in kinds)
check("no migration Job when disabled", "Job" not in kinds)
contacts = [d for d in kinds["Deployment"] if d["metadata"]["name"] == "crm-contacts"][0]
check("fixed replicas without autoscaling", contacts["spec"].get("replicas") == 3)

try:
    helm.Chart.load(str(CHART)).render({}, name="crm", namespace="crm")
    check("missing secrets are refused", False, "rendered without secret.crmSecret")
except helm.HelmError as error:
    check("missing secrets are refused", "secret.crmSecret is required" in str(error), str(error))

report = helm.lint(str(CHART), PRODUCTION, strict=True)
problems = [m for m in report.get("messages", []) if m.get("severity", 0) >= 2] + report.get("errors", [])
check("helm lint --strict is clean", not problems, problems)

print(f"chart: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
