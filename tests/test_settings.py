import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_check(extra_env, *args):
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG")}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings.production", **extra_env})
    return subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, "manage.py", "check", *args], cwd=ROOT, env=env,
        capture_output=True, text=True, check=False,
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = run_check({})
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_production_deploy_check_is_clean_with_a_key():
    result = run_check({"SECRET_KEY": "x" * 20 + "-a-long-random-secret-for-the-deploy-check-0123",
                        "ALLOWED_HOSTS": "shop.example.com"}, "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr
