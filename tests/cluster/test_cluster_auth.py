"""A cluster with Ray's token authentication (its own head: one head runs at a time)."""

from conftest import run_cli
from ray_head import head


def test_a_cluster_with_token_authentication_needs_the_token():
    token = "0123456789abcdef" * 4
    with head(extra_env={"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token}) as (address, _):
        refused = run_cli("cluster", "status", address, timeout=300)
        lines = refused.stderr.strip().splitlines()
        assert refused.returncode == 1 and len(lines) == 1 and "RAY_AUTH_TOKEN" in lines[0], refused.stderr
        allowed = run_cli("cluster", "status", address, timeout=300, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=token)
        assert allowed.returncode == 0 and "2 CPUs" in allowed.stdout, allowed.stderr
