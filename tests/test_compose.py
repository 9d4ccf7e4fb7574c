import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_docker_compose_file_is_valid():
    result = subprocess.run(["docker-compose", "-f", "docker-compose.yml", "config", "-q"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_docker_compose_has_the_production_stack():
    result = subprocess.run(["docker-compose", "-f", "docker-compose.yml", "config", "--services"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert sorted(result.stdout.split()) == ["beat", "postgres", "redis", "s3", "web", "worker"]
