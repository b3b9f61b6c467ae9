"""docker/compose.yaml serves the lab over HTTPS only: Caddy (docker/Caddyfile) terminates TLS
and proxies to web, which publishes no port of its own. (Docker is not run here: the files are
read and checked for what the promise needs.)"""
import json
import re
import shlex

import yaml

from tests.procs import ROOT

DOCKER = ROOT / "docker"


def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def caddy_sites(text: str) -> dict[str, list[list[str]]]:
    """{site address: [directive tokens, ...]} of a Caddyfile (top-level directives of each site)."""
    sites, current, depth = {}, None, 0
    for raw in text.splitlines():
        line = re.sub(r"(^|\s)#.*", "", raw).strip()
        if not line:
            continue
        if line == "}":
            depth -= 1
            continue
        tokens = line.rstrip("{").split()
        if depth == 0:
            current = sites.setdefault(" ".join(tokens), [])
        elif depth == 1:
            current.append(tokens)
        depth += line.endswith("{")
    assert depth == 0, "unbalanced braces"
    return sites


def test_only_caddy_publishes_ports_and_it_serves_https():
    services = compose()["services"]
    published = {name for name, svc in services.items() if svc.get("ports")}
    assert published == {"caddy"}, published  # web (plain HTTP, Secure cookies) is not reachable directly
    caddy = services["caddy"]
    assert caddy["image"].startswith("caddy:")
    assert {"80:80", "443:443"} <= set(caddy["ports"])
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in caddy["volumes"] and (DOCKER / "Caddyfile").is_file()
    assert caddy["environment"] == {"LAB_DOMAIN": "${LAB_DOMAIN:-localhost}", "LAB_TLS": "${LAB_TLS:-internal}"}
    web_env = services["web"]["environment"]
    assert web_env["DJANGO_ALLOWED_HOSTS"] == "${LAB_DOMAIN:-localhost}"  # the Host caddy forwards
    assert "DJANGO_SECURE_SSL_REDIRECT" not in web_env


def test_caddy_terminates_tls_for_lab_domain_and_proxies_to_web():
    sites = caddy_sites((DOCKER / "Caddyfile").read_text())
    assert list(sites) == ["{$LAB_DOMAIN:localhost}"]
    directives = sites["{$LAB_DOMAIN:localhost}"]
    # automatic HTTPS (ACME with LAB_TLS as the account's e-mail), `tls internal` by default for localhost
    assert ["tls", "{$LAB_TLS:internal}"] in directives
    proxies = [d for d in directives if d[0] == "reverse_proxy"]
    assert proxies == [["reverse_proxy", "web:8000"]]
    # web's daphne listens there and takes the client's address and scheme from caddy's headers
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", (DOCKER / "Dockerfile.web").read_text(), re.M).group(1))
    daphne = shlex.split(cmd[-1].split("exec ", 1)[1])
    assert daphne[0] == "daphne" and "--proxy-headers" in daphne and daphne[daphne.index("-p") + 1] == "8000"
    assert compose()["services"]["web"]["expose"] == ["8000"]
