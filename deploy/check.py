#!/usr/bin/env python3
"""Checks the container and Kubernetes files without a cluster or a Docker
engine: the manifests render (kubectl kustomize, when kubectl is there) and
hold together (selectors, ports, probes, volumes, the autoscaler's target,
the disruption budget), and the Dockerfile is multi-stage and non-root.
Exits 1 with every problem listed. Run by .ci/run."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
problems = []


def need(condition, message):
    if not condition:
        problems.append(message)


def documents():
    if shutil.which("kubectl"):
        rendered = subprocess.run(
            ["kubectl", "kustomize", str(HERE / "k8s")],
            check=True, capture_output=True, text=True,
        ).stdout
        return [d for d in yaml.safe_load_all(rendered) if d]
    # Without kubectl: the resources as written, and the generated maps.
    kustomization = yaml.safe_load((HERE / "k8s/kustomization.yaml").read_text())
    docs = []
    for name in kustomization["resources"]:
        docs += [d for d in yaml.safe_load_all((HERE / "k8s" / name).read_text()) if d]
    for generated in kustomization.get("configMapGenerator", []):
        data = {Path(f).name: (HERE / "k8s" / f).read_text() for f in generated["files"]}
        docs.append({"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": generated["name"]}, "data": data})
    return docs


docs = documents()
by_kind = {}
for doc in docs:
    for key in ("apiVersion", "kind", "metadata"):
        need(key in doc, f"a document without {key}: {doc}")
    need(doc.get("metadata", {}).get("name"), f"a {doc.get('kind')} without a name")
    by_kind.setdefault(doc["kind"], []).append(doc)

for kind in ("Namespace", "Deployment", "Service", "ConfigMap",
             "HorizontalPodAutoscaler", "PodDisruptionBudget"):
    need(kind in by_kind, f"no {kind}")

config_maps = {d["metadata"]["name"]: d for d in by_kind.get("ConfigMap", [])}
deployment = by_kind["Deployment"][0]
spec = deployment["spec"]
pod = spec["template"]
labels = pod["metadata"]["labels"]
selector = spec["selector"]["matchLabels"]
need(all(labels.get(k) == v for k, v in selector.items()),
     "the Deployment's selector does not match its pods' labels")
pod_spec = pod["spec"]
need(pod_spec.get("securityContext", {}).get("runAsNonRoot") is True,
     "pods do not run as non-root")
container = pod_spec["containers"][0]
ports = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
    get = container.get(probe, {}).get("httpGet", {})
    need(get.get("path") == path, f"{probe} should GET {path}")
    need(get.get("port") in ports or get.get("port") in ports.values(),
         f"{probe} port {get.get('port')} is not a container port")
need(container.get("securityContext", {}).get("readOnlyRootFilesystem") is True,
     "the container's root filesystem is writable")
mounts = {m["name"]: m["mountPath"] for m in container.get("volumeMounts", [])}
for volume in pod_spec.get("volumes", []):
    if "configMap" in volume:
        need(volume["configMap"]["name"] in config_maps,
             f"volume {volume['name']} names a ConfigMap that does not exist")
    need(volume["name"] in mounts, f"volume {volume['name']} is not mounted")
args = container.get("args", [])
if "--config" in args:
    config_path = args[args.index("--config") + 1]
    need(any(config_path.startswith(m + "/") for m in mounts.values()),
         f"--config {config_path} is on no mounted volume")
env = {e["name"]: e.get("value", "") for e in container.get("env", [])}
for path in env.get("RULEGATE_RULES", "").split(","):
    if path and not path.startswith("/etc/rulegate/rules"):
        need(path in mounts.values(), f"rules path {path} is not mounted")
grace = pod_spec.get("terminationGracePeriodSeconds", 30)
toml_text = config_maps.get("rulegate-config", {}).get("data", {}).get("rulegate.toml", "")
drain = re.search(r"^drain_timeout\s*=\s*([0-9.]+)", toml_text, re.M)
need(drain and float(drain.group(1)) < grace,
     "the drain timeout must end before Kubernetes kills the pod")

service = by_kind["Service"][0]
need(all(labels.get(k) == v for k, v in service["spec"]["selector"].items()),
     "the Service selects no gateway pod")
for port in service["spec"]["ports"]:
    target = port.get("targetPort", port["port"])
    need(target in ports or target in ports.values(), f"Service targetPort {target} is no container port")

hpa = by_kind["HorizontalPodAutoscaler"][0]
target = hpa["spec"]["scaleTargetRef"]
need(target["kind"] == "Deployment" and target["name"] == deployment["metadata"]["name"],
     "the autoscaler does not scale the gateway's Deployment")
pdb = by_kind["PodDisruptionBudget"][0]
need(all(labels.get(k) == v for k, v in pdb["spec"]["selector"]["matchLabels"].items()),
     "the disruption budget selects no gateway pod")
need(pdb["spec"].get("minAvailable", 0) < hpa["spec"]["minReplicas"],
     "the disruption budget would block every eviction")

dockerfile = (ROOT / "Dockerfile").read_text()
stages = re.findall(r"^FROM\s", dockerfile, re.M)
need(len(stages) >= 2, "the Dockerfile is not multi-stage")
user = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
need(user and not user[-1].split(":")[0] in ("0", "root"), "the image runs as root")
for source in re.findall(r"^COPY\s+(?!--from)(\S+)\s", dockerfile, re.M):
    if source != ".":
        need(list(ROOT.glob(source)), f"the Dockerfile copies {source}, which does not exist")
need(re.search(r"^ENTRYPOINT\s", dockerfile, re.M), "the Dockerfile has no ENTRYPOINT")

if problems:
    print("deploy/check.py: " + str(len(problems)) + " problem(s):")
    for problem in problems:
        print("  - " + problem)
    sys.exit(1)
print(f"deploy/check.py: {len(docs)} manifests and the Dockerfile hold together")
