"""The container backend is chosen only when asked for or when a Docker engine answers."""

import socket
import threading

from vareon_chassis.testing.containers import docker_engine_answers, use_containers


def test_no_engine_means_the_embedded_backend(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/absent.sock")
    monkeypatch.setenv("VAREON_TEST_BACKEND", "auto")
    assert docker_engine_answers() is False
    assert use_containers() is False
    monkeypatch.setenv("VAREON_TEST_BACKEND", "embedded")
    assert use_containers() is False


def test_an_engine_that_answers_its_ping_is_detected(monkeypatch, tmp_path):
    path = tmp_path / "docker.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)

    def answer():
        conn, _ = server.accept()
        with conn:
            conn.recv(1024)
            conn.sendall(b"HTTP/1.0 200 OK\r\n\r\nOK")

    thread = threading.Thread(target=answer)
    thread.start()
    monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
    try:
        assert docker_engine_answers(timeout_s=2) is True
    finally:
        thread.join(5)
        server.close()
